// Live preview of a segment rule while it is typed: debounced POST to the dashboard's JSON
// endpoint, newest answer wins. No library; the page works without it (save still checks).
(function () {
  "use strict";
  var DEBOUNCE_MS = 300;
  var form = document.getElementById("segment-form");
  if (!form) { return; }
  var rule = document.getElementById("rule");
  var out = document.getElementById("preview");
  var url = form.getAttribute("data-preview-url");
  var token = form.querySelector("input[name=csrf_token]").value;
  var timer = null;
  var inflight = null;

  function show(nodes) {
    out.replaceChildren.apply(out, nodes);
  }
  function text(tag, value, cls) {
    var el = document.createElement(tag);
    el.textContent = value;
    if (cls) { el.className = cls; }
    return el;
  }
  function render(status, body) {
    if (body && body.error) {
      var nodes = [text("p", body.error.message, "error")];
      var d = body.error.detail;
      if (d && d.line) {
        // The offending line with a caret under the column the parser stopped at.
        var line = rule.value.split("\n")[d.line - 1] || "";
        var caret = line.slice(0, d.column - 1).replace(/[^\t]/g, " ") + "^";
        var pointer = text("pre", line + "\n" + caret);
        pointer.setAttribute("aria-label", "line " + d.line + ", column " + d.column);
        nodes.push(pointer);
      }
      show(nodes);
      return;
    }
    if (status !== 200 || !body) {
      show([text("p", "Preview unavailable (HTTP " + status + ").", "error")]);
      return;
    }
    var share = (body.share * 100).toFixed(1);
    var nodes = [text("p", body.count.toLocaleString() + " of " + body.total.toLocaleString() +
                      " customers (" + share + "%) match.", "ok")];
    nodes[0].id = "preview-count";
    if (body.sample && body.sample.length) {
      nodes.push(text("p", "Sample:", "help"));
      var list = document.createElement("ul");
      body.sample.forEach(function (c) {
        var li = document.createElement("li");
        if (c.url) {
          var a = document.createElement("a");
          a.href = c.url;
          a.textContent = c.label;
          li.appendChild(a);
        } else {
          li.textContent = c.label;
        }
        list.appendChild(li);
      });
      nodes.push(list);
    }
    show(nodes);
  }
  function preview() {
    var value = rule.value.trim();
    if (!value) { show([text("p", "Type a rule to see who it selects.", "help")]); return; }
    if (inflight) { inflight.abort(); }
    inflight = new AbortController();
    out.setAttribute("aria-busy", "true");
    fetch(url, {
      method: "POST", credentials: "same-origin", signal: inflight.signal,
      headers: {"Content-Type": "application/json", "X-CSRF-Token": token},
      body: JSON.stringify({rule: value})
    }).then(function (response) {
      return response.json().catch(function () { return null; }).then(function (body) {
        render(response.status, body);
      });
    }).catch(function (err) {
      if (err.name !== "AbortError") { show([text("p", "Preview failed: " + err.message, "error")]); }
    }).finally(function () { out.removeAttribute("aria-busy"); });
  }
  rule.addEventListener("input", function () {
    clearTimeout(timer);
    timer = setTimeout(preview, DEBOUNCE_MS);
  });
  if (rule.value.trim()) { preview(); }
}());
