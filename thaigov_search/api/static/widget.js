/*
 * thaigov-search embeddable widget. On any page:
 *
 *   <div id="thaigov-search"></div>
 *   <script src="http://SEARCH-HOST:8000/widget.js" data-target="#thaigov-search"></script>
 *
 * Optional attributes on the <script>: data-k (results shown, default 5), data-placeholder,
 * data-lang ("th" default, "en" for English labels).
 * The widget calls SEARCH-HOST's /search from the portal's page, so the server must allow the
 * portal's origin: THAIGOV_SEARCH_CORS_ORIGINS='["https://portal.example.go.th"]'.
 * It renders inside a shadow root (the portal's CSS does not leak in, and its CSS does not leak out).
 * Query suggestions come from SEARCH-HOST/static/suggest.js (the page's own combobox, loaded once);
 * until it has loaded, or if it cannot load, the box is a plain search box.
 */
(function () {
  "use strict";
  var script = document.currentScript;
  if (!script) return;
  var base = new URL(script.src, window.location.href).origin;
  var targetSelector = script.getAttribute("data-target") || "#thaigov-search";
  var k = Math.min(Math.max(parseInt(script.getAttribute("data-k") || "5", 10) || 5, 1), 20);
  var english = script.getAttribute("data-lang") === "en";
  var text = english
    ? { label: "Search Thai government news", button: "Search", more: "More results", none: "No results",
        error: "Search failed", searching: "Searching…",
        busy: function (s) { return "Too many searches from your connection: please wait " + s + " s and try again."; } }
    : { label: "ค้นหาข่าวรัฐบาล", button: "ค้นหา", more: "ดูผลทั้งหมด", none: "ไม่พบข่าวที่ตรงกับคำค้น",
        error: "ค้นหาไม่สำเร็จ", searching: "กำลังค้นหา…",
        busy: function (s) { return "มีการค้นหาถี่เกินไป กรุณารอ " + s + " วินาทีแล้วลองใหม่อีกครั้ง"; } };
  var MONTHS = ["มกราคม", "กุมภาพันธ์", "มีนาคม", "เมษายน", "พฤษภาคม", "มิถุนายน",
    "กรกฎาคม", "สิงหาคม", "กันยายน", "ตุลาคม", "พฤศจิกายน", "ธันวาคม"];
  var CSS = [
    ":host{all:initial;display:block;font-family:'Sarabun','Noto Sans Thai','Leelawadee UI','Thonburi','Loma','Waree',system-ui,sans-serif;",
    "font-size:16px;line-height:1.6;color:#1d2330}",
    "form{display:flex;gap:.4rem;flex-wrap:wrap}label{flex-basis:100%;font-weight:600}",
    ".combo{position:relative;flex:1;min-width:10rem;display:flex}",
    "input{flex:1;min-width:0;font:inherit;padding:.35rem .5rem;border:1px solid #aab1bd;border-radius:6px}",
    ".suggestions{position:absolute;left:0;right:0;top:100%;z-index:20;margin:2px 0 0;padding:.2rem 0;list-style:none;",
    "background:#fff;border:1px solid #aab1bd;border-radius:6px;box-shadow:0 6px 18px rgba(20,30,50,.15)}",
    ".suggestions li{padding:.25rem .6rem;margin:0;cursor:pointer}",
    ".suggestions li[aria-selected=true],.suggestions li:hover{background:#e8eef8;color:#113870}",
    "[hidden]{display:none!important}",
    "button{font:inherit;padding:.35rem .9rem;border:1px solid #1a4f9c;background:#1a4f9c;color:#fff;border-radius:6px;cursor:pointer}",
    ":focus-visible{outline:3px solid #f0a500;outline-offset:2px}",
    "ol{list-style:none;padding:0;margin:.6rem 0 0}li{margin:0 0 .7rem}",
    "a{color:#1a4f9c}.t{font-weight:600}.d{color:#5a6272;font-size:.85em}.s{margin:.1rem 0 0;font-size:.92em}",
    "mark{background:#ffe58a;color:inherit}.msg{color:#5a6272;margin:.5rem 0 0}.err{color:#8a1111}",
  ].join("");

  function thaiDate(iso) {
    var m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(iso || "");
    if (!m || !MONTHS[Number(m[2]) - 1]) return iso || "";
    return english ? iso : Number(m[3]) + " " + MONTHS[Number(m[2]) - 1] + " " + (Number(m[1]) + 543);
  }

  function safeUrl(url) {
    try {
      var u = new URL(url);
      return u.protocol === "http:" || u.protocol === "https:" ? u.href : null;
    } catch (e) {
      return null;
    }
  }

  // Snippets arrive as escaped text plus <mark>; keep <mark>, turn anything else into text.
  function snippet(html) {
    var doc = new DOMParser().parseFromString("<!doctype html><body>" + (html || ""), "text/html");
    var out = document.createDocumentFragment();
    (function copy(from, to) {
      Array.prototype.forEach.call(from.childNodes, function (node) {
        if (node.nodeType === 3) to.appendChild(document.createTextNode(node.nodeValue));
        else if (node.nodeType === 1 && !/^(script|style|template)$/i.test(node.tagName)) {
          if (node.tagName.toLowerCase() === "mark") {
            var mark = document.createElement("mark");
            copy(node, mark);
            to.appendChild(mark);
          } else copy(node, to);
        }
      });
    })(doc.body, out);
    return out;
  }

  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (key) { if (attrs[key] != null) node.setAttribute(key, attrs[key]); });
    (children || []).forEach(function (c) { if (c != null) node.append(c); });
    return node;
  }

  function mount(host) {
    var root = host.attachShadow ? host.attachShadow({ mode: "open" }) : host;
    var style = document.createElement("style");
    style.textContent = CSS;
    var id = "tgs-q-" + Math.random().toString(36).slice(2);
    var input = el("input", { id: id, type: "search", required: "", autocomplete: "off",
      placeholder: script.getAttribute("data-placeholder") || "เช่น รัฐบาลดิจิทัล" });
    var combo = el("div", { class: "combo" }, [input]);
    var form = el("form", { role: "search" }, [el("label", { for: id }, [text.label]), combo,
      el("button", { type: "submit" }, [text.button])]);
    var status = el("p", { class: "msg", role: "status", "aria-live": "polite" });
    var list = el("ol");
    root.append(style, form, status, list);
    var seq = 0;
    var suggest = null;
    withSuggest(function (attach) {
      suggest = attach(input, { base: base, container: combo, label: english ? "Suggestions" : "คำค้นที่แนะนำ",
        onChoose: function () { form.requestSubmit ? form.requestSubmit() : form.dispatchEvent(new Event("submit")); } });
    });

    form.addEventListener("submit", function (event) {
      event.preventDefault();
      if (suggest) suggest.close();
      var q = input.value.trim();
      if (!q) return;
      var mine = ++seq;
      status.className = "msg";
      status.textContent = text.searching;
      list.replaceChildren();
      fetch(base + "/search?" + new URLSearchParams({ q: q, k: String(k), collapse: "true" }).toString(), { headers: { Accept: "application/json" } })
        .then(function (r) {
          return r.json().catch(function () { return {}; }).then(function (body) {
            if (r.status === 429) {  // the server's per-client rate limit: say when to try again
              var busy = new Error(text.busy(Math.max(1, parseInt(r.headers.get("Retry-After") || "1", 10) || 1)));
              busy.busy = true;
              throw busy;
            }
            if (!r.ok) throw new Error(typeof body.detail === "string" ? body.detail : "HTTP " + r.status);
            return body;
          });
        })
        .then(function (data) {
          if (mine !== seq) return;
          status.textContent = data.total ? "" : text.none;
          data.results.forEach(function (hit) {
            var url = safeUrl(hit.url);
            list.append(el("li", {}, [
              url ? el("a", { class: "t", href: url, target: "_blank", rel: "noopener noreferrer" }, [hit.title])
                : el("span", { class: "t" }, [hit.title]),
              el("div", { class: "d" }, [[thaiDate(hit.date), hit.category].filter(Boolean).join(" · ")]),
              el("p", { class: "s" }, [snippet(hit.snippet)]),
            ]));
          });
          if (data.total > data.results.length) {
            status.replaceChildren(el("a", { href: base + "/?" + new URLSearchParams({ q: q }).toString(), target: "_blank",
              rel: "noopener" }, [text.more + " (" + data.total + ")"]));
          }
        })
        .catch(function (err) {
          if (mine !== seq) return;
          status.className = err && err.busy ? "msg busy" : "msg err";
          status.textContent = err && err.busy ? err.message : text.error + ": " + (err && err.message ? err.message : String(err));
        });
    });
  }

  /** Calls back with window.thaigovSuggest once SEARCH-HOST's suggest.js has loaded (one <script> per page). */
  function withSuggest(callback) {
    if (typeof window.thaigovSuggest === "function") return callback(window.thaigovSuggest);
    var src = base + "/static/suggest.js";
    var tag = document.querySelector('script[data-thaigov-suggest]');
    if (!tag) {
      tag = document.createElement("script");
      tag.src = src;
      tag.async = true;
      tag.setAttribute("data-thaigov-suggest", "");
      document.head.appendChild(tag);
    }
    tag.addEventListener("load", function () {
      if (typeof window.thaigovSuggest === "function") callback(window.thaigovSuggest);
    });
    tag.addEventListener("error", function () { console.warn("thaigov-search widget: no suggestions (" + src + " did not load)"); });
  }

  function start() {
    var host = document.querySelector(targetSelector);
    if (!host) {
      console.warn("thaigov-search widget: no element matches " + targetSelector);
      return;
    }
    mount(host);
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
