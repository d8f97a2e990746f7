// bpcalc draw -o html: step through the forward and backward pass of one graph.
// The data (the drawing, its layout, the trace records) is the JSON in #bpcalc-data. Every
// text from the graph goes into the page as a text node or an attribute value, never as markup.
(function () {
  "use strict";

  const data = JSON.parse(document.getElementById("bpcalc-data").textContent);
  const SVG = "http://www.w3.org/2000/svg";
  const F = data.forwardSteps;
  const B = data.backwardSteps;
  const LAST = F + B;
  const PLAY_MS = 1100;
  const TARGET = formulaName(data.target);
  const steps = data.steps; // F forward records, then B backward records
  const byName = new Map();
  data.vertices.forEach(function (v, i) {
    if (v.kind === "input" || v.kind === "op") byName.set(v.name, i);
  });

  // --- building elements ---------------------------------------------------------------------

  function append(node, children) {
    for (const child of children) {
      if (child === null || child === undefined || child === false) continue;
      node.appendChild(typeof child === "string" ? document.createTextNode(child) : child);
    }
    return node;
  }
  function el(tag, attrs) {
    const node = document.createElement(tag);
    for (const key in attrs || {}) node.setAttribute(key, attrs[key]);
    return append(node, Array.prototype.slice.call(arguments, 2));
  }
  function sv(tag, attrs) {
    const node = document.createElementNS(SVG, tag);
    for (const key in attrs || {}) node.setAttribute(key, String(attrs[key]));
    return append(node, Array.prototype.slice.call(arguments, 2));
  }

  // --- numbers, as the tables of bpcalc write them -------------------------------------------

  function fmtNumber(x, digits) {
    if (typeof x === "string") {
      return { NaN: "nan", Infinity: "inf", "-Infinity": "-inf" }[x] || x;
    }
    if (x !== null && typeof x === "object" && "fraction" in x) return x.fraction;
    if (!isFinite(x)) return String(x);
    const text = Number(x).toPrecision(digits);
    const parts = text.split("e");
    let mantissa = parts[0];
    if (mantissa.indexOf(".") >= 0) mantissa = mantissa.replace(/0+$/, "").replace(/\.$/, "");
    if (mantissa === "-0") mantissa = "0";
    if (parts.length === 1) return mantissa;
    const sign = parts[1][0] === "-" ? "-" : "+";
    let exponent = parts[1].replace(/^[+-]/, "");
    if (exponent.length < 2) exponent = "0" + exponent;
    return mantissa + "e" + sign + exponent;
  }
  function isScalar(x) {
    return typeof x === "number" || typeof x === "string" ||
      (x !== null && typeof x === "object" && "fraction" in x);
  }
  // A record value: a number, or a tensor's summary {shape, min, mean, max}, or nested lists.
  function fmtValue(x) {
    if (x === null || x === undefined) return "—";
    if (isScalar(x)) return fmtNumber(x, data.digits.scalar);
    const d = data.digits.tensor;
    if (Array.isArray(x)) {
      const nested = function (item) {
        return Array.isArray(item) ? "[" + item.map(nested).join(", ") + "]" : fmtNumber(item, d);
      };
      return nested(x);
    }
    return x.shape.join("×") + " tensor: min " + fmtNumber(x.min, d) + ", mean " +
      fmtNumber(x.mean, d) + ", max " + fmtNumber(x.max, d);
  }
  // A number in the panel: marked with data-field (the tests read it) and, for tensors, the
  // whole tensor one click away when the page has it.
  function num(x, field, extra) {
    const cls = "num" + (extra && extra.grad ? " grad" : "");
    const span = el("span", { class: cls, "data-field": field }, fmtValue(x));
    if (!isScalar(x) && extra && extra.full) {
      return el("span", {}, span, " ", expandable("every element", extra.full));
    }
    return span;
  }
  function expandable(summary, text) {
    return el("details", {}, el("summary", {}, summary), el("pre", {}, text));
  }
  function formulaName(name) {
    return /^[\p{L}\p{Nl}_][\p{L}\p{N}\p{Mn}\p{Mc}\p{Pc}]*$/u.test(name) ? name : "(" + name + ")";
  }
  function nameSpan(name, cls) {
    return el("span", { class: "name" + (cls ? " " + cls : "") }, formulaName(name));
  }
  function call(op, args, attrs) {
    const out = [op + "("];
    args.forEach(function (arg, i) {
      if (i) out.push(", ");
      out.push(arg);
    });
    if (attrs) out.push((args.length ? ", " : "") + attrs);
    out.push(")");
    return out;
  }

  // --- the page ------------------------------------------------------------------------------

  const buttons = {};
  function button(key, label, shortcut, action) {
    const b = el("button", { type: "button", "aria-keyshortcuts": shortcut.aria, id: "btn-" + key },
      label, " ", el("kbd", { "aria-hidden": "true" }, shortcut.text));
    b.addEventListener("click", action);
    buttons[key] = b;
    return b;
  }
  const slider = el("input", {
    type: "range", min: "0", max: String(LAST), step: "1", value: "0", id: "step-slider",
  });
  const status = el("p", { id: "status", role: "status", "aria-live": "polite" });
  const stepPanel = el("section", { id: "step-panel", "aria-labelledby": "step-heading" });
  const details = el("section", { id: "details", "aria-live": "polite" },
    el("h2", {}, "Node details"),
    el("p", { class: "dim" }, "Hover over a node, or Tab to it, to see its op, value, gradient " +
      "and shape."));
  const summary = el("section", { id: "input-grads", hidden: "" });
  const svg = sv("svg", {
    role: "group",
    "aria-label": "The graph " + data.graph + ": inputs on the left, the output on the right",
    id: "figure",
  });
  const viewport = sv("g", { class: "viewport" });
  svg.appendChild(sv("defs", {},
    sv("marker", {
      id: "arrow", viewBox: "0 0 10 10", refX: "10", refY: "5", markerWidth: "9",
      markerHeight: "9", markerUnits: "userSpaceOnUse", orient: "auto-start-reverse",
    }, sv("path", { d: "M 0 0 L 10 5 L 0 10 z", fill: "#444" }))));
  svg.appendChild(viewport);

  document.title = data.title;
  append(document.body, [
    el("header", {},
      el("h1", {}, data.title),
      el("p", { class: "legend" },
        "Values above each edge; ",
        el("span", { class: "grad-text" }, "gradients d " + TARGET + "/d value"),
        " below it (italic, red). Forward: the active node has a thick outline; backward: a " +
        "dashed one, and the edges it just sent gradients along are dashed.")),
    el("div", { class: "layout" },
      el("main", {},
        el("div", { class: "controls", role: "toolbar", "aria-label": "Step through" },
          button("reset", "Reset", { text: "Home", aria: "Home" }, function () { go(0); }),
          button("back", "Step back", { text: "←", aria: "ArrowLeft" }, function () { go(cur - 1); }),
          button("play", "Play", { text: "Space", aria: "Space" }, togglePlay),
          button("next", "Step forward", { text: "→", aria: "ArrowRight" }, function () { go(cur + 1); }),
          button("backward", "Backward pass", { text: "B", aria: "B" }, function () { go(Math.min(F + 1, LAST)); }),
          button("end", "End", { text: "End", aria: "End" }, function () { go(LAST); }),
          el("label", { for: "step-slider" }, "Step", slider)),
        status,
        el("div", { class: "figure" }, svg),
        el("p", { class: "help" },
          "Keys: ", el("kbd", {}, "←"), " ", el("kbd", {}, "→"), " step, ",
          el("kbd", {}, "Space"), " play or pause, ", el("kbd", {}, "Home"), " ",
          el("kbd", {}, "End"), " first and last step, ", el("kbd", {}, "B"),
          " backward pass, ", el("kbd", {}, "+"), " ", el("kbd", {}, "−"), " zoom, ",
          el("kbd", {}, "0"), " fit, ", el("kbd", {}, "Shift"), "+arrows pan (or drag and " +
          "scroll the figure), ", el("kbd", {}, "Tab"), " to a node for its details.")),
      el("aside", { class: "panel", "aria-label": "The current step" }, stepPanel, details, summary)),
  ]);

  // --- the figure ----------------------------------------------------------------------------

  const vertexNodes = [];
  const edgeNodes = [];
  const vertexBox = data.vertices;

  data.edges.forEach(function (e, i) {
    const x1 = e.line[0], y1 = e.line[1], x2 = e.line[2], y2 = e.line[3];
    const lx = e.label[0], ly = e.label[1];
    const value = sv("text", { x: lx, y: ly - 7, "text-anchor": "middle", class: "value" }, e.value);
    const grad = sv("text", { x: lx, y: ly + 17, "text-anchor": "middle", class: "grad" }, e.grad || "");
    const g = sv("g", { class: "edge", "data-edge": i },
      sv("line", { x1: x1, y1: y1, x2: x2, y2: y2, "marker-end": "url(#arrow)" }),
      e.name ? sv("text", { x: lx, y: ly - 23, "text-anchor": "middle", class: "name" }, e.name) : null,
      value, grad);
    viewport.appendChild(g);
    edgeNodes.push({ g: g, value: value, grad: grad });
  });

  data.vertices.forEach(function (v, i) {
    const shape = v.kind !== "op"
      ? null
      : v.w === v.h
        ? sv("circle", { cx: v.x, cy: v.y, r: v.w / 2, class: "shape" })
        : sv("rect", { x: v.x - v.w / 2, y: v.y - v.h / 2, width: v.w, height: v.h, rx: 12, class: "shape" });
    const what = v.kind === "op" ? v.name + ": " + v.op + (v.attrs ? "(" + v.attrs + ")" : "") : v.kind + " " + v.name;
    const g = sv("g", {
      class: "vertex " + v.kind, tabindex: "0", role: "button", "data-vertex": i,
      "aria-label": what,
    },
      sv("title", {}, what),
      sv("rect", {
        class: "halo", x: v.x - v.w / 2 - 4, y: v.y - v.h / 2 - 4, width: v.w + 8, height: v.h + 8, rx: 8,
      }),
      shape,
      sv("text", {
        x: v.x, y: v.y, "text-anchor": "middle", "dominant-baseline": "central", class: "label",
      }, v.label));
    g.addEventListener("focus", function () { showDetails(i); });
    g.addEventListener("mouseenter", function () { showDetails(i); });
    g.addEventListener("click", function () { showDetails(i); });
    viewport.appendChild(g);
    vertexNodes.push(g);
  });

  // --- pan and zoom: the SVG viewBox ---------------------------------------------------------

  let view = { x: 0, y: 0, w: data.width, h: data.height };
  function setView(v) {
    view = v;
    svg.setAttribute("viewBox", [v.x, v.y, v.w, v.h].map(function (n) { return n.toFixed(1); }).join(" "));
  }
  function unitsPerPixel() {
    const r = svg.getBoundingClientRect();
    return Math.max(view.w / (r.width || 1), view.h / (r.height || 1));
  }
  function fit(all) {
    // The whole drawing, never drawn larger than 1.4 times its size; a drawing that would be
    // too small to read starts at 0.8 with its inputs in view (0 shows it all).
    const r = svg.getBoundingClientRect();
    const cw = r.width || data.width;
    const ch = r.height || data.height;
    let scale = Math.min(1.4, cw / data.width, ch / data.height);
    let x0 = null;
    if (scale < 0.4 && !all) {
      scale = 0.8;
      x0 = 0;
    }
    const w = cw / scale;
    const h = ch / scale;
    setView({ x: x0 === null ? (data.width - w) / 2 : x0, y: (data.height - h) / 2, w: w, h: h });
  }
  function zoom(factor, cx, cy) {
    const w = Math.min(Math.max(view.w * factor, 40), Math.max(data.width, data.height) * 8);
    const k = w / view.w;
    const px = cx === undefined ? view.x + view.w / 2 : cx;
    const py = cy === undefined ? view.y + view.h / 2 : cy;
    setView({ x: px - (px - view.x) * k, y: py - (py - view.y) * k, w: w, h: view.h * k });
  }
  function pan(dx, dy) {
    setView({ x: view.x + dx, y: view.y + dy, w: view.w, h: view.h });
  }
  function reveal(i) {
    // Bring vertex i into view when a step makes it active off screen.
    const v = vertexBox[i];
    const margin = 30;
    if (v.x - v.w / 2 < view.x + margin || v.x + v.w / 2 > view.x + view.w - margin ||
        v.y - v.h / 2 < view.y + margin || v.y + v.h / 2 > view.y + view.h - margin) {
      setView({ x: v.x - view.w / 2, y: v.y - view.h / 2, w: view.w, h: view.h });
    }
  }
  svg.addEventListener("wheel", function (event) {
    event.preventDefault();
    const point = svg.createSVGPoint();
    point.x = event.clientX;
    point.y = event.clientY;
    const ctm = viewport.getScreenCTM();
    const p = ctm ? point.matrixTransform(ctm.inverse()) : { x: undefined, y: undefined };
    zoom(event.deltaY > 0 ? 1.15 : 1 / 1.15, p.x, p.y);
  }, { passive: false });
  let drag = null;
  svg.addEventListener("pointerdown", function (event) {
    if (event.button !== 0) return;
    drag = { x: event.clientX, y: event.clientY, moved: false };
  });
  svg.addEventListener("pointermove", function (event) {
    if (!drag) return;
    const dx = event.clientX - drag.x;
    const dy = event.clientY - drag.y;
    if (!drag.moved && Math.hypot(dx, dy) < 3) return;
    if (!drag.moved) {
      drag.moved = true;
      svg.setPointerCapture(event.pointerId);
      svg.classList.add("dragging");
    }
    const k = unitsPerPixel();
    pan(-dx * k, -dy * k);
    drag.x = event.clientX;
    drag.y = event.clientY;
  });
  function endDrag() {
    drag = null;
    svg.classList.remove("dragging");
  }
  svg.addEventListener("pointerup", endDrag);
  svg.addEventListener("pointercancel", endDrag);

  // --- the steps -----------------------------------------------------------------------------

  let cur = 0;
  let timer = null;

  function at(when) {
    // A value or gradient with no step of its own (zeros no gradient reaches) is shown at the end.
    return when === null || when === undefined ? LAST : when;
  }
  function shown(when) { return cur >= at(when); }

  function go(step) {
    const next = Math.max(0, Math.min(LAST, step));
    if (next === LAST || next === 0) stopPlay();
    cur = next;
    render();
  }

  function render() {
    const record = cur ? steps[cur - 1] : null;
    const backward = cur > F;
    const fresh = new Set();
    if (record && backward) record.contributions.forEach(function (c) { fresh.add(c.edge); });
    data.edges.forEach(function (e, i) {
      const n = edgeNodes[i];
      n.value.textContent = cur >= e.valueAt ? e.value : "";
      n.grad.textContent = e.grad !== null && shown(e.gradAt) ? e.grad : "";
      n.g.classList.toggle("fresh", fresh.has(i));
    });
    const received = new Set();
    if (record && backward) record.contributions.forEach(function (c) { received.add(c.vertex); });
    data.vertices.forEach(function (v, i) {
      const g = vertexNodes[i];
      const active = record !== null && record.vertex === i;
      g.classList.toggle("active", active);
      g.classList.toggle("forward", active && !backward);
      g.classList.toggle("backward", active && backward);
      g.classList.toggle("received", received.has(i));
      g.classList.toggle("value-hidden", cur < v.computedAt);
    });
    slider.value = String(cur);
    slider.setAttribute("aria-valuetext", stepName(cur));
    document.body.setAttribute("data-step", String(cur));
    buttons.reset.disabled = cur === 0;
    buttons.back.disabled = cur === 0;
    buttons.next.disabled = cur === LAST;
    buttons.end.disabled = cur === LAST;
    buttons.backward.disabled = B === 0;
    buttons.play.disabled = LAST === 0;
    status.textContent = stepName(cur) + (record ? ": " + record.node : "");
    renderPanel(record, backward);
    if (record) reveal(record.vertex);
    if (shownDetails !== null) showDetails(shownDetails);
  }

  function stepName(step) {
    if (step === 0) return "Start";
    if (step <= F) return "Forward " + step + " of " + F;
    return "Backward " + (step - F) + " of " + B;
  }

  function forwardCall(record) {
    const v = data.vertices[record.vertex];
    return call(record.op, record.inputs.map(function (o) { return o.constant ? o.name : formulaName(o.name); }), v.attrs);
  }

  function renderPanel(record, backward) {
    stepPanel.replaceChildren();
    if (!record) {
      append(stepPanel, [
        el("h2", { id: "step-heading" }, "Start"),
        el("p", {}, "The inputs' values are known. " + F + " forward steps compute each node " +
          "in dependency order; " + B + " backward steps then send d " + TARGET +
          "/d value back along each edge, from d " + TARGET + " = 1."),
        el("p", { class: "dim" }, "Press → or Step forward to begin."),
      ]);
    } else if (!backward) {
      renderForward(record);
    } else {
      renderBackward(record);
    }
    summary.hidden = cur !== LAST || B === 0;
    if (!summary.hidden && !summary.firstChild) renderInputGrads();
  }

  function renderForward(record) {
    const v = data.vertices[record.vertex];
    const inputs = el("ul", {});
    record.inputs.forEach(function (o) {
      const full = o.constant ? null : data.vertices[byName.get(o.name)].valueFull;
      inputs.appendChild(el("li", { "data-input": o.name },
        o.constant ? el("span", { class: "dim" }, "constant ") : nameSpan(o.name),
        el("span", { class: "dim" }, " (" + o.param + ")"), " = ",
        num(o.value, "input-value", { full: full })));
    });
    append(stepPanel, [
      el("h2", { id: "step-heading" }, "Forward step (" + record.step + ") of " + F),
      el("p", { class: "formula" }, nameSpan(record.node, "node"), " = ",
        ...forwardCall(record)),
      el("h3", {}, "Inputs"),
      inputs,
      el("p", { class: "formula" }, "= ",
        ...call(record.op, record.inputs.map(function (o) { return fmtValue(o.value); }), v.attrs),
        " = ", num(record.value, "value", { full: v.valueFull })),
    ]);
  }

  function renderBackward(record) {
    const forward = steps[record.step - 1];
    const v = data.vertices[record.vertex];
    const params = forward.inputs.map(function (o) { return o.param; });
    const where = forward.inputs.map(function (o) { return o.param + " is " + (o.constant ? o.name : formulaName(o.name)); }).join(", ");
    append(stepPanel, [
      el("h2", { id: "step-heading" },
        "Backward step (" + record.step + "), " + (cur - F) + " of " + B),
      el("p", { class: "formula" }, nameSpan(record.node, "node"), " = ", ...forwardCall(forward)),
      el("p", {}, "dout = d " + TARGET + "/d " + formulaName(record.node) + " = ",
        num(record.dout, "dout", { grad: true, full: v.gradFull })),
    ]);
    if (!record.contributions.length) {
      stepPanel.appendChild(el("p", { class: "dim" }, "No input of this node needs a gradient."));
    }
    record.contributions.forEach(function (c) {
      const edge = data.edges[c.edge];
      const target = data.vertices[c.vertex];
      const box = el("div", { class: "contribution", "data-name": c.name, "data-param": c.param });
      const head = el("p", { class: "formula" }, "d ", nameSpan(c.name), " += ");
      if (c.local !== null) {
        append(head, [num(record.dout, "term-dout", { grad: true }), " × ", num(c.local, "local"), " = "]);
      } else {
        append(head, ["dout × ∂/∂" + c.param + " = "]);
      }
      head.appendChild(num(c.amount, "amount", { grad: true, full: edge.gradFull }));
      box.appendChild(head);
      const local = el("p", { class: "dim" }, "local derivative ",
        el("span", { class: "formula" }, "∂", ...call(record.op, params, v.attrs), "/∂" + c.param +
          " = " + c.derivative));
      if (c.local !== null) {
        append(local, [", here ∂" + formulaName(record.node) + "/∂" + formulaName(c.name) + " = ",
          num(c.local, "local-again")]);
      }
      local.appendChild(document.createTextNode(" (" + where + ")"));
      box.appendChild(local);
      if (c.of > 1) {
        const line = el("p", {}, "running sum: d ", nameSpan(c.name), " = ");
        if (c.previous !== null && isScalar(c.total)) {
          append(line, [num(c.previous, "previous", { grad: true }), " + ",
            num(c.amount, "amount-again", { grad: true }), " = "]);
        }
        append(line, [num(c.total, "running", { grad: true }),
          el("span", { class: "dim" }, " (contribution " + c.contribution + " of " + c.of + ")")]);
        box.appendChild(line);
        if (c.contribution === c.of) {
          box.appendChild(el("p", {}, "total: d " + TARGET + "/d ", nameSpan(c.name), " = ",
            num(c.total, "total", { grad: true, full: target.gradFull }),
            el("span", { class: "dim" }, ", the sum over its " + c.of + " uses")));
        }
      }
      stepPanel.appendChild(box);
    });
  }

  function renderInputGrads() {
    const list = el("dl", {});
    data.vertices.forEach(function (v) {
      if (v.kind !== "input") return;
      append(list, [el("dt", {}, v.name),
        el("dd", { "data-grad": v.name }, v.grad === null
          ? el("span", { class: "dim" }, "no gradient (grad: false)")
          : el("span", { class: "num grad" }, v.grad),
        v.gradFull ? expandable("every element", v.gradFull) : null)]);
    });
    append(summary, [el("h2", {}, "Gradients of the inputs, d " + TARGET + "/d input"), list]);
  }

  // --- details of one vertex (hover or focus) ------------------------------------------------

  let shownDetails = null;
  function showDetails(i) {
    shownDetails = i;
    const v = data.vertices[i];
    const valueKnown = cur >= v.computedAt;
    const gradKnown = v.grad !== null && shown(v.gradAt);
    const list = el("dl", {},
      el("dt", {}, "name"), el("dd", {}, v.name),
      el("dt", {}, "kind"), el("dd", {}, v.kind === "op" ? "op " + v.op + (v.attrs ? " (" + v.attrs + ")" : "") : v.kind),
      el("dt", {}, "shape"), el("dd", {}, v.shape.length ? v.shape.join("×") : "scalar"),
      el("dt", {}, "value"), el("dd", { "data-field": "detail-value" },
        valueKnown ? v.value : el("span", { class: "dim" }, "computed at forward step " + v.computedAt),
        valueKnown && v.valueFull ? expandable("every element", v.valueFull) : null),
      el("dt", {}, "gradient"), el("dd", { "data-field": "detail-grad" },
        v.grad === null
          ? el("span", { class: "dim" }, v.kind === "constant" ? "none (a constant)" : "none")
          : gradKnown
            ? el("span", { class: "grad-text" }, v.grad)
            : el("span", { class: "dim" }, "known after " + stepName(at(v.gradAt)).toLowerCase()),
        gradKnown && v.gradFull ? expandable("every element", v.gradFull) : null));
    details.replaceChildren(el("h2", {}, "Node details"), list);
  }

  // --- keyboard and play ---------------------------------------------------------------------

  function togglePlay() {
    if (timer !== null) {
      stopPlay();
      return;
    }
    if (cur === LAST) go(0);
    timer = window.setInterval(function () {
      if (cur >= LAST) stopPlay();
      else go(cur + 1);
    }, PLAY_MS);
    buttons.play.setAttribute("aria-pressed", "true");
    buttons.play.firstChild.textContent = "Pause";
  }
  function stopPlay() {
    if (timer !== null) window.clearInterval(timer);
    timer = null;
    buttons.play.setAttribute("aria-pressed", "false");
    buttons.play.firstChild.textContent = "Play";
  }

  slider.addEventListener("input", function () {
    stopPlay();
    go(Number(slider.value));
  });

  document.addEventListener("keydown", function (event) {
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    const target = event.target;
    const tag = target && target.tagName ? target.tagName.toLowerCase() : "";
    if (tag === "input" && event.key !== " ") return; // the slider has its own keys
    if ((tag === "button" || tag === "summary") && (event.key === " " || event.key === "Enter")) return;
    const panStep = Math.max(view.w, view.h) * 0.1;
    let handled = true;
    if (event.shiftKey && event.key.indexOf("Arrow") === 0) {
      pan(event.key === "ArrowLeft" ? -panStep : event.key === "ArrowRight" ? panStep : 0,
        event.key === "ArrowUp" ? -panStep : event.key === "ArrowDown" ? panStep : 0);
    } else if (event.key === "ArrowRight") {
      stopPlay();
      go(cur + 1);
    } else if (event.key === "ArrowLeft") {
      stopPlay();
      go(cur - 1);
    } else if (event.key === " ") {
      togglePlay();
    } else if (event.key === "Home") {
      stopPlay();
      go(0);
    } else if (event.key === "End") {
      stopPlay();
      go(LAST);
    } else if (event.key === "b" || event.key === "B") {
      stopPlay();
      go(Math.min(F + 1, LAST));
    } else if (event.key === "+" || event.key === "=") {
      zoom(1 / 1.25);
    } else if (event.key === "-" || event.key === "_") {
      zoom(1.25);
    } else if (event.key === "0") {
      fit(true);
    } else {
      handled = false;
    }
    if (handled) event.preventDefault();
  });

  fit(false);
  render();
  window.addEventListener("resize", function () { fit(false); });
  document.body.setAttribute("data-ready", "true");
})();
