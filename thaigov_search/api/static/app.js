// Search page for thaigov-search: vanilla JS, no build step.
// State lives in the URL (?q=&page=&date_from=&date_to=&category=&mode=&sort=&recency=&related=) so every
// view is linkable. Fields the server may not have yet (facets, did_you_mean, duplicates, /suggest) are
// optional: without them the page shows what it can and hides the rest.
"use strict";

const PAGE_SIZE = 10;
const THAI_MONTHS = ["มกราคม", "กุมภาพันธ์", "มีนาคม", "เมษายน", "พฤษภาคม", "มิถุนายน",
  "กรกฎาคม", "สิงหาคม", "กันยายน", "ตุลาคม", "พฤศจิกายน", "ธันวาคม"];
const FILTERS = ["date_from", "date_to", "category", "mode"];  // which releases (also the feed's)
const DEFAULTS = { mode: "hybrid", sort: "relevance" };
const FORM_FIELDS = [...FILTERS, "sort"];
const SORTS = ["relevance", "date_desc", "date_asc"];
const BE_OFFSET = 543;  // Buddhist era year = Gregorian year + 543
const HISTOGRAM_MAX_GAP_FILL = 30;
const FACET_SHOWN = 10;  // longer facet lists (the 10k subset has 38 categories) show this many, then "show all"  // fill missing years with empty bars when the span is at most this
let requestSeq = 0;
let suggestions = null;

const $ = (id) => document.getElementById(id);

/** "2018-08-29" → "29 สิงหาคม 2561" (Buddhist era); "" for a missing or odd date. */
function thaiDate(iso) {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(iso || "");
  if (!m) return "";
  const month = THAI_MONTHS[Number(m[2]) - 1];
  return month ? `${Number(m[3])} ${month} ${Number(m[1]) + 543}` : "";
}

/** "2018" → "2561 (2018)". */
function yearLabel(year) {
  return `${Number(year) + BE_OFFSET} (${year})`;
}

const THAI_DIGITS = /[๐-๙]/g;

/**
 * What a person types in a date field → ISO "yyyy-mm-dd" (Gregorian), "" for nothing, null if it is not a date.
 * Accepts ISO (2018-08-29), Thai style day/month/year with a Buddhist-era year (29/08/2561), a Gregorian
 * year in either form (29/08/2018), "." or "-" between day, month and year, and Thai digits (๒๙/๐๘/๒๕๖๑).
 * A year of 2400 or more is Buddhist era (2400 B.E. = 1857, before any release; 2400 C.E. is far off).
 */
function parseDate(text) {
  const value = (text || "").trim().replace(THAI_DIGITS, (d) => String(d.charCodeAt(0) - 0x0e50));
  if (!value) return "";
  let m = /^(\d{4})-(\d{1,2})-(\d{1,2})$/.exec(value);
  let year, month, day;
  if (m) {
    [year, month, day] = [Number(m[1]), Number(m[2]), Number(m[3])];
  } else {
    m = /^(\d{1,2})[/.-](\d{1,2})[/.-](\d{4})$/.exec(value);
    if (!m) return null;
    [day, month, year] = [Number(m[1]), Number(m[2]), Number(m[3])];
  }
  if (year >= 2400) year -= BE_OFFSET;
  const date = new Date(Date.UTC(year, month - 1, day));
  if (year < 1000 || date.getUTCFullYear() !== year || date.getUTCMonth() !== month - 1 || date.getUTCDate() !== day) {
    return null;
  }
  return `${String(year).padStart(4, "0")}-${String(month).padStart(2, "0")}-${String(day).padStart(2, "0")}`;
}

const DATE_HINT = "วว/ดด/ปปปป (พ.ศ.) หรือ yyyy-mm-dd (ค.ศ.)";

/**
 * Under a date field: the date it means in both calendars, or the accepted forms. ``strict`` (on leaving
 * the field, on submit) also marks a text that is no date as invalid; while typing, "1/8/" is just unfinished.
 */
function showDateHint(field, strict = true) {
  const hint = $(`${field.id}-hint`);
  const iso = parseDate(field.value);
  const invalid = iso === null && strict;
  if (invalid) field.setAttribute("aria-invalid", "true");
  else field.removeAttribute("aria-invalid");
  hint.classList.toggle("invalid", invalid);
  hint.textContent = invalid
    ? `ไม่ใช่วันที่ ใช้ ${DATE_HINT} (not a date: use dd/mm/yyyy B.E. or yyyy-mm-dd)`
    : iso ? `${thaiDate(iso)} · ${iso}` : DATE_HINT;
  return iso;
}

/** Snippet HTML → a fragment holding text and <mark> elements only (everything else becomes text). */
function sanitizeSnippet(html) {
  const doc = new DOMParser().parseFromString(`<!doctype html><body>${html || ""}`, "text/html");
  const out = document.createDocumentFragment();
  const copy = (from, to) => {
    for (const node of from.childNodes) {
      if (node.nodeType === Node.TEXT_NODE) {
        to.appendChild(document.createTextNode(node.nodeValue));
      } else if (node.nodeType === Node.ELEMENT_NODE) {
        const tag = node.tagName.toLowerCase();
        if (tag === "script" || tag === "style" || tag === "template") continue;
        if (tag === "mark") {
          const mark = document.createElement("mark");
          copy(node, mark);
          to.appendChild(mark);
        } else {
          copy(node, to);
        }
      }
    }
  };
  copy(doc.body, out);
  return out;
}

/** Only http(s) links from the index are followed (a stored url could be anything). */
function safeUrl(url) {
  try {
    const parsed = new URL(url);
    return parsed.protocol === "http:" || parsed.protocol === "https:" ? parsed.href : null;
  } catch (_) {
    return null;
  }
}

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === null || value === undefined) continue;
    if (key === "class") node.className = value;
    else node.setAttribute(key, value);
  }
  for (const child of children) {
    if (child === null || child === undefined) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

/** GET a JSON API path; throws {status, detail} on an error answer or a network failure. */
async function api(path) {
  let response;
  try {
    response = await fetch(path, { headers: { Accept: "application/json" } });
  } catch (err) {
    throw { status: 0, detail: "ติดต่อเซิร์ฟเวอร์ไม่ได้ (cannot reach the server)" };
  }
  let body = null;
  try {
    body = await response.json();
  } catch (_) {
    body = null;
  }
  if (!response.ok) {
    let detail = body && body.detail !== undefined ? body.detail : response.statusText;
    if (typeof detail !== "string") detail = JSON.stringify(detail);
    throw { status: response.status, detail, retryAfter: parseInt(response.headers.get("Retry-After") || "", 10) };
  }
  return body;
}

function currentParams() {
  return new URLSearchParams(window.location.search);
}

/** A page URL from the given params, dropping empty values. */
function pageUrl(params) {
  const clean = new URLSearchParams();
  for (const [key, value] of params) if (value) clean.set(key, value);
  const query = clean.toString();
  return query ? `/?${query}` : "/";
}

function navigate(url) {
  window.history.pushState(null, "", url);
  render();
}

/** Over the server's per-client rate limit: a message, not an error code. */
function busyMessage(seconds) {
  const wait = Number.isFinite(seconds) && seconds > 0 ? seconds : 1;
  return `มีการค้นหาจากเครือข่ายของท่านถี่เกินไป กรุณารอ ${wait} วินาทีแล้วลองใหม่อีกครั้ง ` +
    `(too many searches from your connection: please wait ${wait} s and try again)`;
}

function showError(err) {
  const box = $("error");
  if (err.status === 429) {
    box.replaceChildren(el("span", { class: "busy" }, busyMessage(err.retryAfter)));
    box.hidden = false;
    return;
  }
  box.replaceChildren(
    el("strong", {}, `เกิดข้อผิดพลาด (error${err.status ? " " + err.status : ""}): `),
    el("span", { class: "detail" }, err.detail || "unknown error"),
  );
  box.hidden = false;
}

/** The feed links (page and <head>) for a search: same query and filters, newest first. */
function showFeeds(params) {
  const query = new URLSearchParams({ q: params.get("q").trim() });
  for (const name of FILTERS) if (params.get(name)) query.set(name, params.get(name));
  $("feed-atom").href = `/feed.atom?${query}`;
  $("feed-rss").href = `/feed.rss?${query}`;
  $("feeds").hidden = false;
  let link = document.querySelector('link[rel="alternate"][type="application/atom+xml"]');
  if (!link) {
    link = el("link", { rel: "alternate", type: "application/atom+xml" });
    document.head.append(link);
  }
  link.title = `ข่าวรัฐบาลไทย: ${params.get("q").trim()}`;
  link.href = `/feed.atom?${query}`;
}

function clearView() {
  $("feeds").hidden = true;
  $("did-you-mean").hidden = true;
  $("facets").hidden = true;
  $("layout").classList.remove("with-facets");
  $("histogram").hidden = true;
  $("facet-groups").replaceChildren();
  $("error").hidden = true;
  $("error").replaceChildren();
  $("result-list").replaceChildren();
  $("pager").hidden = true;
  $("status").textContent = "";
}

function resultItem(hit, params) {
  const url = safeUrl(hit.url);
  const title = url
    ? el("a", { href: url, target: "_blank", rel: "noopener noreferrer" }, hit.title)
    : el("span", {}, hit.title);
  const date = hit.date
    ? el("span", { class: "date" }, el("time", { datetime: hit.date }, thaiDate(hit.date)),
      el("span", { class: "iso" }, ` (${hit.date})`))
    : el("span", { class: "date" }, "ไม่ระบุวันที่ (no date)");
  const related = new URLSearchParams(params);
  related.delete("page");
  related.set("related", hit.id);
  const links = el("p", { class: "links" },
    url ? el("a", { href: url, target: "_blank", rel: "noopener noreferrer", class: "source" },
      "อ่านข่าวต้นฉบับ (source)") : null,
    url ? " · " : null,
    el("a", { href: pageUrl(related), class: "related", "data-nav": "" }, "ข่าวที่เกี่ยวข้อง (related)"),
    ...twinLink(hit));
  return el("li", { class: "result", "data-id": hit.id },
    el("h3", {}, title),
    el("p", { class: "meta" }, date,
      hit.category ? el("span", { class: "category" }, hit.category) : null),
    el("p", { class: "snippet" }, sanitizeSnippet(hit.snippet)),
    links,
    duplicatesControl(hit));
}

/** The same release in the other language (an English <-> Thai twin linked at index time). */
function twinLink(hit) {
  const twin = hit.twin;
  if (!twin || typeof twin.id !== "string") return [];  // none, or a server that does not link twins
  const english = twin.language === "en";
  const label = english ? "Read in English" : "อ่านภาษาไทย";
  const url = safeUrl(twin.url);
  const attrs = { class: "twin", lang: english ? "en" : "th", title: twin.title || "", "data-twin": twin.id };
  return [" · ", url
    ? el("a", { ...attrs, href: url, target: "_blank", rel: "noopener noreferrer" }, label)
    : el("span", attrs, label)];
}

/** "Show n copies": the same release filed again (another section, another day) is one result, expandable. */
function duplicatesControl(hit) {
  const n = Number(hit.duplicates);
  if (!Number.isInteger(n) || n <= 0) return null;  // none, or a server that does not group copies
  const listId = `dups-${hit.id}`;
  const label = () => (button.getAttribute("aria-expanded") === "true"
    ? `ซ่อนข่าวซ้ำ (hide ${n} duplicate${n > 1 ? "s" : ""})`
    : `ข่าวเดียวกันอีก ${n} รายการ (show ${n} duplicate${n > 1 ? "s" : ""})`);
  const button = el("button", { type: "button", class: "dups-toggle secondary", "aria-expanded": "false",
    "aria-controls": listId });
  const list = el("ul", { id: listId, class: "duplicates", hidden: "", "aria-label": "ข่าวซ้ำ (duplicates)" });
  button.textContent = label();
  let loaded = false;
  button.addEventListener("click", async () => {
    const open = button.getAttribute("aria-expanded") !== "true";
    button.setAttribute("aria-expanded", String(open));
    button.textContent = label();
    list.hidden = !open;
    if (!open || loaded) return;
    loaded = true;
    list.setAttribute("aria-busy", "true");
    list.replaceChildren(el("li", { class: "loading" }, "กำลังโหลด… (loading)"));
    try {
      const doc = await api(`/documents/${encodeURIComponent(hit.id)}`);
      const ids = Array.isArray(doc.duplicates) ? doc.duplicates : [];
      const docs = await Promise.all(ids.map((id) => api(`/documents/${encodeURIComponent(id)}`)
        .catch(() => ({ id, title: id }))));
      list.replaceChildren(...(docs.length ? docs.map(duplicateItem)
        : [el("li", {}, "ไม่พบข่าวซ้ำ (no duplicates found)")]));
    } catch (err) {
      loaded = false;  // a later click tries again
      list.replaceChildren(el("li", { class: "error-inline" }, `โหลดไม่สำเร็จ (could not load): ${err.detail || err}`));
    }
    list.removeAttribute("aria-busy");
  });
  return el("div", { class: "dups" }, button, list);
}

function duplicateItem(doc) {
  const url = safeUrl(doc.url);
  return el("li", { class: "duplicate", "data-id": doc.id },
    url ? el("a", { href: url, target: "_blank", rel: "noopener noreferrer" }, doc.title) : el("span", {}, doc.title),
    " ",
    el("span", { class: "meta-inline" },
      doc.date ? el("time", { datetime: doc.date }, thaiDate(doc.date)) : null,
      doc.date ? el("span", { class: "iso" }, ` (${doc.date})`) : null,
      doc.category ? el("span", { class: "category" }, doc.category) : null));
}

function renderPager(params, page, total) {
  const pages = Math.max(1, Math.ceil(total / PAGE_SIZE));
  if (pages <= 1) return;
  const link = (target) => {
    const next = new URLSearchParams(params);
    next.set("page", String(target));
    return pageUrl(next);
  };
  const prev = $("prev");
  const next = $("next");
  prev.hidden = page <= 1;
  next.hidden = page >= pages;
  prev.href = link(page - 1);
  next.href = link(page + 1);
  $("page-info").textContent = `หน้า ${page} จาก ${pages} (page ${page} of ${pages})`;
  $("pager").hidden = false;
}

function fillForm(params) {
  $("q").value = params.get("q") || "";
  for (const name of FORM_FIELDS) {
    const field = $(name);
    const value = params.get(name) || DEFAULTS[name] || "";
    if (field.tagName === "SELECT" && value && ![...field.options].some((o) => o.value === value)) {
      field.append(el("option", { value }, value)); // a category from a shared link, before /categories loads
    }
    field.value = value;
  }
  for (const name of ["date_from", "date_to"]) showDateHint($(name));
}

async function render() {
  const params = currentParams();
  const seq = ++requestSeq;
  fillForm(params);
  clearView();
  const related = params.get("related");
  const q = (params.get("q") || "").trim();
  if (!related && !q) {
    $("status").textContent = "พิมพ์คำค้นแล้วกด Enter (type a query and press Enter)";
    document.title = "ค้นหาข่าวรัฐบาลไทย · Thai government news search";
    return;
  }
  $("status").textContent = "กำลังค้นหา… (searching)";
  const page = Math.max(1, parseInt(params.get("page") || "1", 10) || 1);
  try {
    const data = related
      ? await api(`/documents/${encodeURIComponent(related)}/similar?k=${PAGE_SIZE}`)
      : await api(`/search?${searchQuery(params, page)}`);
    if (seq !== requestSeq) return; // a newer request has started
    showResults(data, params, page, related);
    if (!related) showFacets(data, params);
  } catch (err) {
    if (seq !== requestSeq) return;
    $("status").textContent = "";
    showError(err);
  }
}

function searchQuery(params, page) {
  const query = new URLSearchParams({ q: params.get("q").trim(), k: String(PAGE_SIZE),
    offset: String((page - 1) * PAGE_SIZE), collapse: "true" });
  for (const name of FILTERS) if (params.get(name)) query.set(name, params.get(name));
  const sort = params.get("sort");
  if (sort && sort !== "relevance") query.set("sort", sort);
  if (params.get("recency")) query.set("recency", params.get("recency"));
  query.set("facets", filteredYear(params) ? "category,year,month" : "category,year");
  return query.toString();
}

/** The year the date filter covers, when it lies within one year (then the month facet is asked for). */
function filteredYear(params) {
  const from = params.get("date_from") || "";
  const to = params.get("date_to") || "";
  return from.length >= 4 && from.slice(0, 4) === to.slice(0, 4) ? from.slice(0, 4) : null;
}

function showResults(data, params, page, related) {
  const list = $("result-list");
  list.start = related ? 1 : (page - 1) * PAGE_SIZE + 1;
  const status = $("status");
  if (related) {
    const back = new URLSearchParams(params);
    back.delete("related");
    status.replaceChildren(`ข่าวที่เกี่ยวข้องกับ “${data.query}” (related releases) · `,
      el("a", { href: pageUrl(back), "data-nav": "", id: "back" }, "กลับ (back)"));
    document.title = `ข่าวที่เกี่ยวข้อง: ${data.query}`;
  } else if (data.total === 0) {
    status.textContent = `ไม่พบข่าวที่ตรงกับ “${data.query}” — ลองใช้คำอื่นหรือล้างตัวกรอง ` +
      "(no results: try other words or clear the filters)";
    document.title = `ไม่พบผล: ${data.query}`;
  } else {
    const first = (page - 1) * PAGE_SIZE + 1;
    const last = first + data.results.length - 1;
    status.textContent = data.results.length
      ? `พบ ${data.total} ข่าว · แสดง ${first}–${last} (${data.total} results, ${Math.round(data.took_ms)} ms)`
      : `พบ ${data.total} ข่าว แต่หน้านี้ไม่มีผล (no results on this page)`;
    document.title = `${data.query} · ค้นหาข่าวรัฐบาลไทย`;
  }
  list.replaceChildren(...data.results.map((hit) => resultItem(hit, params)));
  if (!related) {
    renderPager(params, page, data.total);
    showFeeds(params);
    showDidYouMean(data, params);
  }
}

/** The server's spelling suggestion as a link to that search (same filters, first page). */
function showDidYouMean(data, params) {
  const better = typeof data.did_you_mean === "string" ? data.did_you_mean.trim() : "";
  if (!better || better === (params.get("q") || "").trim()) return;
  const target = new URLSearchParams(params);
  target.set("q", better);
  target.delete("page");
  const link = $("did-you-mean-link");
  link.textContent = better;
  link.href = pageUrl(target);
  $("did-you-mean").hidden = false;
}

// ---- facets and the histogram --------------------------------------------------------------------

function lastDay(year, month) {
  return new Date(Date.UTC(Number(year), Number(month), 0)).getUTCDate();
}

/** A facet value → the filter it stands for: {label, set: {param: value}, active}. */
function facetFilter(name, value, params) {
  if (name === "category") {
    return { label: value, set: { category: value }, active: params.get("category") === value };
  }
  if (name === "year" && /^\d{4}$/.test(value)) {
    const set = { date_from: `${value}-01-01`, date_to: `${value}-12-31` };
    return { label: yearLabel(value), set, active: sameDates(params, set) };
  }
  if (name === "month") {
    let m = /^(\d{4})-(\d{1,2})$/.exec(value);
    if (!m && /^\d{1,2}$/.test(value) && filteredYear(params)) m = [value, filteredYear(params), value];
    if (!m || !THAI_MONTHS[Number(m[2]) - 1]) return null;
    const month = String(Number(m[2])).padStart(2, "0");
    const set = { date_from: `${m[1]}-${month}-01`, date_to: `${m[1]}-${month}-${lastDay(m[1], month)}` };
    return { label: `${THAI_MONTHS[Number(month) - 1]} ${Number(m[1]) + BE_OFFSET}`, set, active: sameDates(params, set),
      year: m[1], month };
  }
  return null;
}

function sameDates(params, set) {
  return params.get("date_from") === set.date_from && params.get("date_to") === set.date_to;
}

/** The page URL with a facet's filter applied, or removed when it is the active one. */
function facetUrl(params, filter) {
  const next = new URLSearchParams(params);
  next.delete("page");
  for (const [key, value] of Object.entries(filter.set)) {
    if (filter.active) next.delete(key);
    else next.set(key, value);
  }
  return pageUrl(next);
}

/** Facet answers look like [{value, count}]; anything else (an older server) is no facet. */
function facetRows(facets, name) {
  const rows = facets && Array.isArray(facets[name]) ? facets[name] : [];
  return rows.filter((r) => r && typeof r.value === "string" && r.value && Number.isFinite(Number(r.count)));
}

const FACET_TITLES = {
  category: ["หมวดข่าว", "category"],
  year: ["ปี", "year"],
  month: ["เดือน", "month"],
};

function showFacets(data, params) {
  const facets = data && typeof data.facets === "object" ? data.facets : null;
  const groups = [];
  for (const name of ["category", "year", "month"]) {
    const rows = facetRows(facets, name)
      .map((r) => ({ ...r, filter: facetFilter(name, r.value, params) }))
      .filter((r) => r.filter);
    if (name !== "category") rows.sort((a, b) => a.value.localeCompare(b.value));
    if (!rows.length) continue;
    const headingId = `facet-${name}-heading`;
    const list = el("ul", { id: `facet-${name}-list` }, ...rows.map((r, i) => el("li",
      { hidden: i >= FACET_SHOWN && !r.filter.active ? "" : null },
        el("a", { href: facetUrl(params, r.filter), "data-nav": "", "data-facet": name, "data-value": r.value,
          class: r.filter.active ? "active" : null, "aria-current": r.filter.active ? "true" : null,
          title: r.filter.active ? "เอาตัวกรองนี้ออก (remove this filter)" : null },
        el("span", { class: "facet-label" }, r.filter.label),
        r.filter.active ? el("span", { class: "remove", "aria-hidden": "true" }, " ✕") : null,
        " ",
        el("span", { class: "count" }, `${Number(r.count).toLocaleString("th-TH")}`)))));
    groups.push(el("section", { class: `facet facet-${name}`, "aria-labelledby": headingId },
      el("h3", { id: headingId }, FACET_TITLES[name][0], " ", el("span", { class: "en" }, `(${FACET_TITLES[name][1]})`)),
      list, rows.length > FACET_SHOWN ? showAllButton(list, rows.length) : null));
  }
  $("facet-groups").replaceChildren(...groups);
  const histogram = showHistogram(facets, params);
  $("facets").hidden = !groups.length && !histogram;
  $("layout").classList.toggle("with-facets", !$("facets").hidden);
}

/** Under a long facet list: show the rest of it, or only the first FACET_SHOWN again. */
function showAllButton(list, n) {
  const button = el("button", { type: "button", class: "facet-more secondary", "aria-expanded": "false",
    "aria-controls": list.id }, `แสดงทั้งหมด ${n} รายการ (show all ${n})`);
  button.addEventListener("click", () => {
    const open = button.getAttribute("aria-expanded") !== "true";
    button.setAttribute("aria-expanded", String(open));
    button.textContent = open ? `แสดง ${FACET_SHOWN} อันดับแรก (show top ${FACET_SHOWN})` : `แสดงทั้งหมด ${n} รายการ (show all ${n})`;
    [...list.children].forEach((li, i) => {
      if (i >= FACET_SHOWN && !li.querySelector("[aria-current]")) li.hidden = !open;
    });
  });
  return button;
}

/** Bars for the years of the result set (or the months of the filtered year), each a link that filters to it. */
function showHistogram(facets, params) {
  const figure = $("histogram");
  const months = facetRows(facets, "month").map((r) => ({ ...r, filter: facetFilter("month", r.value, params) }))
    .filter((r) => r.filter);
  let bars;
  let caption;
  if (months.length) {
    const year = months[0].filter.year;
    const byMonth = new Map(months.map((r) => [Number(r.filter.month), r]));
    bars = THAI_MONTHS.map((_, i) => {
      const row = byMonth.get(i + 1) || { count: 0, filter: facetFilter("month", `${year}-${String(i + 1).padStart(2, "0")}`, params) };
      return { key: `${year}-${String(i + 1).padStart(2, "0")}`, label: row.filter.label, tick: String(i + 1), count: Number(row.count), filter: row.filter, attr: "data-month" };
    });
    caption = [`จำนวนข่าวตามเดือน ปี ${yearLabel(year)}`, "(results per month)"];
  } else {
    const years = facetRows(facets, "year").filter((r) => /^\d{4}$/.test(r.value));
    if (!years.length) {
      figure.hidden = true;
      return false;
    }
    const counts = new Map(years.map((r) => [Number(r.value), Number(r.count)]));
    let keys = [...counts.keys()].sort((a, b) => a - b);
    const [first, last] = [keys[0], keys[keys.length - 1]];
    if (last - first <= HISTOGRAM_MAX_GAP_FILL) keys = Array.from({ length: last - first + 1 }, (_, i) => first + i);
    bars = keys.map((y) => ({ key: String(y), label: yearLabel(y), tick: String(y + BE_OFFSET), count: counts.get(y) || 0,
      filter: facetFilter("year", String(y), params), attr: "data-year" }));
    caption = ["จำนวนข่าวตามปี", "(results per year)"];
  }
  const NS = "http://www.w3.org/2000/svg";
  const svgEl = (tag, attrs, ...children) => {
    const node = document.createElementNS(NS, tag);
    for (const [key, value] of Object.entries(attrs)) if (value !== null && value !== undefined) node.setAttribute(key, value);
    node.append(...children);
    return node;
  };
  const [width, height, top, bottom] = [230, 110, 14, 16];  // about the aside's width in px: text keeps its size
  const slot = width / bars.length;
  const max = Math.max(1, ...bars.map((b) => b.count));
  const tickEvery = Math.ceil(bars.length / 8);
  const svg = svgEl("svg", { viewBox: `0 0 ${width} ${height}`, role: "group", "aria-labelledby": "histogram-caption",
    class: "histogram-chart" });
  bars.forEach((bar, i) => {
    const h = bar.count ? Math.max(2, (bar.count / max) * (height - top - bottom)) : 0;
    const x = i * slot + slot * 0.12;
    const y = height - bottom - h;
    const name = `${bar.label}: ${bar.count} ข่าว (${bar.count} result${bar.count === 1 ? "" : "s"})`;
    const rect = svgEl("rect", { x: x.toFixed(1), y: y.toFixed(1), width: (slot * 0.76).toFixed(1), height: h.toFixed(1),
      class: bar.filter && bar.filter.active ? "bar active" : "bar" });
    const group = [svgEl("title", {}, name), rect,
      svgEl("rect", { x: (i * slot).toFixed(1), y: 0, width: slot.toFixed(1), height: height - bottom, class: "hit" })];
    if (bar.count && String(bar.count).length * 6 <= slot) group.push(svgEl("text", { x: (x + slot * 0.38).toFixed(1), y: (y - 3).toFixed(1), class: "value",
      "text-anchor": "middle" }, String(bar.count)));
    if (i % tickEvery === 0) group.push(svgEl("text", { x: (i * slot + slot / 2).toFixed(1), y: height - 4, class: "tick",
      "text-anchor": "middle" }, bar.tick));
    const attrs = { [bar.attr]: bar.key, "data-count": String(bar.count), class: "histogram-bar" };
    if (bar.count && bar.filter) {
      svg.append(svgEl("a", { ...attrs, href: facetUrl(params, bar.filter), "data-nav": "", "aria-label": name }, ...group));
    } else {
      svg.append(svgEl("g", { ...attrs, "aria-label": name, role: "img" }, ...group));
    }
  });
  $("histogram-caption").replaceChildren(caption[0], " ", el("span", { class: "en" }, caption[1]));
  figure.replaceChildren($("histogram-caption"), svg);
  figure.hidden = false;
  return true;
}

async function loadCategories() {
  try {
    const rows = await api("/categories");
    const select = $("category");
    const chosen = select.value;
    select.replaceChildren(el("option", { value: "" }, "ทุกหมวด (all)"),
      ...rows.filter((r) => r.category).map((r) => el("option", { value: r.category }, `${r.category} (${r.count})`)));
    if (chosen && ![...select.options].some((o) => o.value === chosen)) select.append(el("option", { value: chosen }, chosen));
    select.value = chosen;
  } catch (err) {
    // The search still works without the list; leave "all categories".
    console.warn("categories unavailable", err);
  }
}

function onSubmit(event) {
  event.preventDefault();
  if (suggestions) suggestions.close();
  const params = new URLSearchParams();
  params.set("q", $("q").value.trim());
  for (const name of FORM_FIELDS) {
    let value = $(name).value;
    if (name === "date_from" || name === "date_to") {
      value = showDateHint($(name));
      if (value === null) {  // say so where the mistake is, and search nothing
        $(name).focus();
        return;
      }
    }
    if (value && value !== DEFAULTS[name]) params.set(name, value);
  }
  const recency = currentParams().get("recency");  // a URL-only knob: kept while the form changes the rest
  if (recency) params.set("recency", recency);
  navigate(pageUrl(params));
}

function onClick(event) {
  const link = event.target.closest("a[data-nav], #prev, #next");
  if (!link || event.defaultPrevented || event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey) return;
  event.preventDefault();
  navigate(link.getAttribute("href"));
  $("results").focus({ preventScroll: false });
}

document.addEventListener("DOMContentLoaded", () => {
  $("search-form").addEventListener("submit", onSubmit);
  $("clear-filters").addEventListener("click", () => {
    for (const name of FILTERS) $(name).value = DEFAULTS[name] || "";
    for (const name of ["date_from", "date_to"]) showDateHint($(name));
    if ($("q").value.trim()) $("search-form").requestSubmit();
  });
  for (const name of ["date_from", "date_to"]) {
    $(name).addEventListener("input", () => showDateHint($(name), false));
    $(name).addEventListener("change", () => showDateHint($(name)));
  }
  $("sort").addEventListener("change", () => {  // a new order for the same results: apply at once
    if ($("q").value.trim()) $("search-form").requestSubmit();
  });
  if (typeof window.thaigovSuggest === "function") {
    suggestions = window.thaigovSuggest($("q"), { container: $("q").parentNode,
      onChoose: () => $("search-form").requestSubmit() });
  }
  document.addEventListener("click", onClick);
  window.addEventListener("popstate", render);
  render();
  loadCategories();
});
