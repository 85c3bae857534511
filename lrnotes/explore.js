/* lrnotes explorers: interactive figures over results a notebook has already computed.
 *
 * Each explorer is a <div class="lrnotes-explorer"> holding its data as JSON
 * (<script type="application/json">, written by lrnotes/explore.py). This
 * script builds the labelled controls (a range input for an ordered setting, a
 * menu otherwise), and on every change draws with Plotly the traces of the
 * chosen setting. No network, no kernel: everything drawn is in the page.
 */
(function () {
  "use strict";
  var api = window.lrnotesExplore;
  if (api && api.version) {
    api.mountAll();
    return;
  }

  function keyOf(indices) {
    return indices.join("|");
  }

  function parseKey(key) {
    return key.split("|").map(Number);
  }

  function optionsFor(keys, current, position) {
    // The option indices of control `position` that combine with the controls before it.
    var seen = {};
    var found = [];
    keys.forEach(function (key) {
      for (var j = 0; j < position; j++) {
        if (key[j] !== current[j]) return;
      }
      if (!seen[key[position]]) {
        seen[key[position]] = true;
        found.push(key[position]);
      }
    });
    return found.sort(function (a, b) { return a - b; });
  }

  function nearest(options, wanted) {
    var best = options[0];
    options.forEach(function (option) {
      if (Math.abs(option - wanted) < Math.abs(best - wanted)) best = option;
    });
    return best;
  }

  function mount(root) {
    if (root.getAttribute("data-mounted") === "1") return;
    if (!window.Plotly) {
      var missing = root.querySelector(".lrnotes-explorer-fallback");
      if (missing) missing.textContent = "This interactive figure needs Plotly, which did not load.";
      return;
    }
    var spec = JSON.parse(root.querySelector("script[type='application/json']").textContent);
    var keys = spec.keys.map(parseKey);
    var current = parseKey(spec.initial);
    var controlsBox = root.querySelector(".lrnotes-explorer-controls");
    var plot = root.querySelector(".lrnotes-explorer-plot");
    var status = root.querySelector(".lrnotes-explorer-status");
    var widgets = [];

    function refreshOptions() {
      spec.controls.forEach(function (control, i) {
        var options = optionsFor(keys, current, i);
        if (options.indexOf(current[i]) < 0) current[i] = nearest(options, current[i]);
        var widget = widgets[i];
        widget.options = options;
        var label = control.options[current[i]];
        if (control.kind === "range") {
          widget.input.max = String(options.length - 1);
          widget.input.value = String(options.indexOf(current[i]));
          widget.input.disabled = options.length < 2;
          widget.input.setAttribute("aria-valuetext", label);
          widget.output.textContent = label;
        } else {
          widget.input.innerHTML = "";
          options.forEach(function (option) {
            var element = document.createElement("option");
            element.value = String(option);
            element.textContent = control.options[option];
            widget.input.appendChild(element);
          });
          widget.input.value = String(current[i]);
          widget.input.disabled = options.length < 2;
        }
      });
    }

    function draw() {
      var key = keyOf(current);
      var state = spec.states[key];
      var data = spec.figure.data.map(function (style, t) {
        var trace = Object.assign({}, style);
        var drawn = state.traces[t];
        if (drawn === null) return trace; // a trace that carries its own data
        if (drawn === false) {
          trace.visible = false;
          return trace;
        }
        trace.x = spec.xs[drawn[0]];
        trace.y = drawn[1];
        if (drawn.length > 2) Object.assign(trace, drawn[2]); // per-setting style
        return trace;
      });
      var layout = plot.layout || JSON.parse(JSON.stringify(spec.figure.layout));
      Object.keys(state.layout || {}).forEach(function (path) {
        // "xaxis.range": [a, b] sets layout.xaxis.range
        var parts = path.split(".");
        var target = layout;
        for (var p = 0; p < parts.length - 1; p++) {
          target[parts[p]] = target[parts[p]] || {};
          target = target[parts[p]];
        }
        target[parts[parts.length - 1]] = state.layout[path];
      });
      window.Plotly.react(plot, data, layout, spec.config);
      status.textContent = state.status;
      root.setAttribute("data-key", key);
    }

    spec.controls.forEach(function (control, i) {
      var id = root.id + "-control-" + i;
      var box = document.createElement("div");
      box.className = "lrnotes-explorer-control";
      var label = document.createElement("label");
      label.setAttribute("for", id);
      label.textContent = control.label;
      box.appendChild(label);
      var widget = {};
      if (control.kind === "range") {
        widget.input = document.createElement("input");
        widget.input.type = "range";
        widget.input.min = "0";
        widget.input.step = "1";
        widget.input.id = id;
        widget.output = document.createElement("output");
        widget.output.setAttribute("for", id);
        widget.input.addEventListener("input", function () {
          current[i] = widget.options[Number(widget.input.value)];
          refreshOptions();
          draw();
        });
        box.appendChild(widget.input);
        box.appendChild(widget.output);
      } else {
        widget.input = document.createElement("select");
        widget.input.id = id;
        widget.input.addEventListener("change", function () {
          current[i] = Number(widget.input.value);
          refreshOptions();
          draw();
        });
        box.appendChild(widget.input);
      }
      widgets.push(widget);
      controlsBox.appendChild(box);
    });
    var fallback = root.querySelector(".lrnotes-explorer-fallback");
    if (fallback) fallback.remove();
    refreshOptions();
    draw();
    root.setAttribute("data-mounted", "1");
  }

  function mountAll() {
    Array.prototype.forEach.call(document.querySelectorAll(".lrnotes-explorer"), mount);
  }

  window.lrnotesExplore = { version: 1, mount: mount, mountAll: mountAll };
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", mountAll);
  } else {
    mountAll();
  }
})();
