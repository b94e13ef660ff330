/*
 * Query suggestions for a search box: the ARIA 1.2 combobox pattern (an input with a listbox popup),
 * shared by the search page and the widget (which loads this file from the search server, so it is
 * plain ES5 with one global, window.thaigovSuggest).
 *
 *   thaigovSuggest(input, { base: "", container: input.parentNode, onChoose: function (text) {...} })
 *
 * Typing asks GET {base}/suggest?q=...&k=8 after a short pause (one request per pause, not per key);
 * ArrowDown/ArrowUp move through the list (aria-activedescendant, focus stays in the input), Enter
 * takes the highlighted suggestion (or submits what was typed when none is highlighted), Escape
 * closes the list, a click takes a suggestion. A server without /suggest (404) is asked once, then
 * the box behaves as a plain search box. Returns {close} so a form can close the list on submit.
 */
(function () {
  "use strict";
  var DELAY_MS = 150;  // a pause in typing, not every key: a suggest request per word, not per letter
  var counter = 0;

  function attach(input, options) {
    var base = options.base || "";
    var k = options.k || 8;
    var doc = input.ownerDocument;
    var id = "tgs-suggest-" + (++counter);
    var list = doc.createElement("ul");
    list.id = id;
    list.className = "suggestions";
    list.setAttribute("role", "listbox");
    list.setAttribute("aria-label", options.label || "คำค้นที่แนะนำ (suggestions)");
    list.hidden = true;
    (options.container || input.parentNode).appendChild(list);
    input.setAttribute("role", "combobox");
    input.setAttribute("aria-autocomplete", "list");
    input.setAttribute("aria-expanded", "false");
    input.setAttribute("aria-controls", id);
    input.setAttribute("autocomplete", "off");

    var timer = null;
    var seq = 0;
    var active = -1;
    var items = [];
    var unavailable = false;

    function close() {
      clearTimeout(timer);
      timer = null;
      seq++;  // an answer still on its way is dropped
      active = -1;
      items = [];
      list.hidden = true;
      list.replaceChildren();
      input.setAttribute("aria-expanded", "false");
      input.removeAttribute("aria-activedescendant");
    }

    function highlight(index) {
      active = index;
      items.forEach(function (li, i) {
        li.setAttribute("aria-selected", i === index ? "true" : "false");
      });
      if (index >= 0) {
        input.setAttribute("aria-activedescendant", items[index].id);
        if (items[index].scrollIntoView) items[index].scrollIntoView({ block: "nearest" });
      } else {
        input.removeAttribute("aria-activedescendant");
      }
    }

    function choose(text) {
      input.value = text;
      close();
      options.onChoose(text);
    }

    /** The typed prefix in bold (<mark>-free: the list shows completions, not matches). */
    function label(text, typed) {
      var span = doc.createElement("span");
      var at = typed ? text.toLowerCase().indexOf(typed.toLowerCase()) : -1;
      if (at < 0) {
        span.textContent = text;
        return span;
      }
      var strong = doc.createElement("strong");
      strong.textContent = text.slice(at, at + typed.length);
      span.append(text.slice(0, at), strong, text.slice(at + typed.length));
      return span;
    }

    function show(suggestions, typed) {
      list.replaceChildren();
      items = suggestions.map(function (s, i) {
        var li = doc.createElement("li");
        li.id = id + "-" + i;
        li.setAttribute("role", "option");
        li.setAttribute("aria-selected", "false");
        li.dataset.text = s.text;
        li.appendChild(label(s.text, typed));
        li.addEventListener("mousedown", function (event) { event.preventDefault(); });  // keep focus in the input
        li.addEventListener("click", function () { choose(s.text); });
        list.appendChild(li);
        return li;
      });
      active = -1;
      input.removeAttribute("aria-activedescendant");
      list.hidden = items.length === 0;
      input.setAttribute("aria-expanded", items.length ? "true" : "false");
    }

    function ask() {
      var typed = input.value.trim();
      if (!typed || unavailable) {
        close();
        return;
      }
      var mine = ++seq;
      var url = base + "/suggest?" + new URLSearchParams({ q: typed, k: String(k) }).toString();
      fetch(url, { headers: { Accept: "application/json" } })
        .then(function (r) {
          if (r.status === 404 || r.status === 405) unavailable = true;  // an older server: no suggestions
          return r.ok ? r.json() : null;
        })
        .then(function (data) {
          var root = input.getRootNode ? input.getRootNode() : doc;  // the document, or the widget's shadow root
          if (mine !== seq || root.activeElement !== input) return;  // typed on, or left the box meanwhile
          var suggestions = data && Array.isArray(data.suggestions) ? data.suggestions.filter(function (s) {
            return s && typeof s.text === "string" && s.text;
          }) : [];
          show(suggestions, typed);
        })
        .catch(function () { /* suggestions are a convenience: the search still works without them */ });
    }

    input.addEventListener("input", function () {
      clearTimeout(timer);
      timer = setTimeout(ask, DELAY_MS);
    });
    input.addEventListener("keydown", function (event) {
      var open = !list.hidden && items.length > 0;
      if (event.key === "ArrowDown" || event.key === "Down") {
        event.preventDefault();
        if (!open) ask();
        else highlight(active + 1 >= items.length ? 0 : active + 1);
      } else if (event.key === "ArrowUp" || event.key === "Up") {
        if (!open) return;
        event.preventDefault();
        highlight(active <= 0 ? items.length - 1 : active - 1);
      } else if (event.key === "Enter") {
        if (open && active >= 0) {
          event.preventDefault();
          choose(items[active].dataset.text);
        } else {
          close();  // the form submits what was typed
        }
      } else if (event.key === "Escape" || event.key === "Esc") {
        if (open) {
          event.preventDefault();
          event.stopPropagation();
          close();
        }
      } else if (event.key === "Tab") {
        close();
      }
    });
    input.addEventListener("blur", function () { setTimeout(close, 0); });
    return { close: close };
  }

  window.thaigovSuggest = attach;
})();
