// Search page for thaigov-search: vanilla JS, no build step.
// State lives in the URL (?q=&page=&date_from=&date_to=&category=&mode=&related=) so every view is linkable.
"use strict";

const PAGE_SIZE = 10;
const THAI_MONTHS = ["มกราคม", "กุมภาพันธ์", "มีนาคม", "เมษายน", "พฤษภาคม", "มิถุนายน",
  "กรกฎาคม", "สิงหาคม", "กันยายน", "ตุลาคม", "พฤศจิกายน", "ธันวาคม"];
const FILTERS = ["date_from", "date_to", "category", "mode"];
let requestSeq = 0;

const $ = (id) => document.getElementById(id);

/** "2018-08-29" → "29 สิงหาคม 2561" (Buddhist era); "" for a missing or odd date. */
function thaiDate(iso) {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(iso || "");
  if (!m) return "";
  const month = THAI_MONTHS[Number(m[2]) - 1];
  return month ? `${Number(m[3])} ${month} ${Number(m[1]) + 543}` : "";
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
    el("a", { href: pageUrl(related), class: "related", "data-nav": "" }, "ข่าวที่เกี่ยวข้อง (related)"));
  return el("li", { class: "result", "data-id": hit.id },
    el("h3", {}, title),
    el("p", { class: "meta" }, date,
      hit.category ? el("span", { class: "category" }, hit.category) : null),
    el("p", { class: "snippet" }, sanitizeSnippet(hit.snippet)),
    links);
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
  for (const name of FILTERS) {
    const field = $(name);
    const value = params.get(name) || (name === "mode" ? "hybrid" : "");
    if (field.tagName === "SELECT" && value && ![...field.options].some((o) => o.value === value)) {
      field.append(el("option", { value }, value)); // a category from a shared link, before /categories loads
    }
    field.value = value;
  }
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
  } catch (err) {
    if (seq !== requestSeq) return;
    $("status").textContent = "";
    showError(err);
  }
}

function searchQuery(params, page) {
  const query = new URLSearchParams({ q: params.get("q").trim(), k: String(PAGE_SIZE),
    offset: String((page - 1) * PAGE_SIZE) });
  for (const name of FILTERS) if (params.get(name)) query.set(name, params.get(name));
  return query.toString();
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
  }
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
  const params = new URLSearchParams();
  params.set("q", $("q").value.trim());
  for (const name of FILTERS) {
    const value = $(name).value;
    if (value && !(name === "mode" && value === "hybrid")) params.set(name, value);
  }
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
    for (const name of FILTERS) $(name).value = name === "mode" ? "hybrid" : "";
    if ($("q").value.trim()) $("search-form").requestSubmit();
  });
  document.addEventListener("click", onClick);
  window.addEventListener("popstate", render);
  render();
  loadCategories();
});
