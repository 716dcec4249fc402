/* domainteb leaderboard: renders window.DOMAINTEB_DATA (embedded in the page, so the site works
 * from file:// as well as from any static server). Vanilla JS, no dependencies.
 * Tabs: "Overall" (per-type averages) and one per task type (its tasks). Click a header to sort,
 * a model name for its details; filters by size, access (open/API) and kind (adapted/generalist).
 * Missing scores render as blank cells and always sort last; an average over fewer tasks than
 * its column covers is flagged with "*" and ranks after the complete ones.
 * "#" is the Borda rank; the rank interval and the "tied with the leader" marker come from the
 * paired bootstrap in the data and belong to the model, so they survive any re-sorting. The
 * reference (ceiling) row is never ranked. */
(function () {
  "use strict";
  var D = window.DOMAINTEB_DATA;
  if (!D) { return; }
  var OVERALL = "Overall";
  var state = { tab: OVERALL, sortKey: "borda", sortDir: 1, open: {} };
  var TIED = {};
  (D.tied_with_leader || []).forEach(function (k) { TIED[k] = true; });
  var PLOT_TITLES = { score_vs_params: "Score vs parameters (log scale)", type_profile: "Task-type profile of the top models",
                      gain_over_base: "Gain over base, adapted models (95% CI)" };

  function el(tag, attrs, text) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) { node.setAttribute(k, attrs[k]); });
    if (text !== undefined && text !== null) { node.textContent = text; }
    return node;
  }
  function isNum(v) { return typeof v === "number" && isFinite(v); }
  function fmt(v) { return isNum(v) ? (100 * v).toFixed(2) : ""; }
  function signed(v) { return isNum(v) ? (v >= 0 ? "+" : "") + (100 * v).toFixed(2) : ""; }
  function bordaRank(m) { var b = (D.borda || {})[m.key]; return b ? b.rank : undefined; }
  function interval(m) { return (D.rank_interval || {})[m.key]; }
  function delta(m) { return (D.delta_vs_base || {})[m.key]; }
  function millions(n) { return isNum(n) && n > 0 ? (n / 1e6 >= 100 ? (n / 1e6).toFixed(0) : (n / 1e6).toFixed(1)) : ""; }

  function tasksOf(type) { return D.tasks.filter(function (t) { return type === "all" || t.type === type; }); }

  /* Columns of the current tab: fixed model columns, then score columns. */
  function columns() {
    var cols = [
      { key: "borda", label: "#", title: "Borda rank over the domain's tasks" },
      { key: "model", label: "Model", cls: "model" },
      { key: "interval", label: "Rank " + Math.round(100 * (D.rank_level || 0.95)) + "% CI",
        title: "rank interval of Mean(Task) over " + (D.rank_n_boot || 0) + " paired bootstrap replicates" }
    ];
    if (state.tab === OVERALL) {
      cols.push({ key: "avg:all", label: "Mean(Task) (" + D.tasks.length + ")", group: "all" });
      cols.push({ key: "meantype", label: "Mean(TaskType)", title: "mean of the per-type averages" });
      D.types.forEach(function (t) {
        cols.push({ key: "avg:" + t, label: t + " (" + tasksOf(t).length + ")", group: t });
      });
      cols.push({ key: "delta", label: "Δ vs base", title: "Mean(Task) gain of an adapted model over its base, 95% paired bootstrap CI" });
      cols.push({ key: "method", label: "Method" });
      cols.push({ key: "sparsity", label: "Sparsity" });
      cols.push({ key: "synth", label: "Synthetic" , title: "synthetic training pairs" });
    } else {
      cols.push({ key: "avg:" + state.tab, label: "Average (" + tasksOf(state.tab).length + ")", group: state.tab });
      tasksOf(state.tab).forEach(function (t) {
        var inferred = t.type_source === "mteb registry" || t.type_source === "score keys";
        cols.push({ key: "task:" + t.name, label: t.name + (inferred ? " †" : ""), task: t.name,
                    title: inferred ? "task type inferred from the " + t.type_source : "" });
      });
    }
    cols.push({ key: "size", label: "Params (M)" });
    cols.push({ key: "dim", label: "Dim" });
    cols.push({ key: "maxtok", label: "Max tokens" });
    return cols;
  }

  function value(m, col) {
    if (col.key === "model") { return m.key.toLowerCase(); }
    if (col.key === "size") { return m.n_parameters; }
    if (col.key === "dim") { return m.embed_dim; }
    if (col.key === "maxtok") { return m.max_tokens; }
    if (col.key === "borda") { return bordaRank(m); }
    if (col.key === "interval") { var iv = interval(m); return iv ? iv[0] + iv[1] / 1000 : undefined; }
    if (col.key === "meantype") { return (D.mean_type || {})[m.key]; }
    if (col.key === "delta") { var d = delta(m); return d ? d.delta : undefined; }
    if (col.key === "method") { return m.adaptation_method || undefined; }
    if (col.key === "sparsity") { return m.sparsity; }
    if (col.key === "synth") { return m.synthetic_size; }
    if (col.task) { return (D.scores[m.key] || {})[col.task]; }
    if (col.group) { return (D.averages[m.key] || {})[col.group]; }
    return undefined;
  }

  function readNumber(id) {
    var raw = document.getElementById(id).value;
    return raw === "" ? null : Number(raw);
  }

  function complete(m, group) { return ((D.counts[m.key] || {})[group] || 0) >= tasksOf(group).length; }

  function visibleModels() {
    var lo = readNumber("min-size"), hi = readNumber("max-size");
    var access = document.getElementById("access").value, kind = document.getElementById("kind").value;
    var zeroShot = document.getElementById("zero-shot").checked;
    return D.models.filter(function (m) {
      if (zeroShot && m.zero_shot === false) { return false; }
      if (access !== "all" && m.access !== access) { return false; }
      if (kind !== "all" && m.kind !== kind && m.kind !== "reference") { return false; }
      if (lo !== null || hi !== null) {
        if (!isNum(m.n_parameters)) { return false; }
        var size = m.n_parameters / 1e6;
        if (lo !== null && size < lo) { return false; }
        if (hi !== null && size > hi) { return false; }
      }
      return true;
    });
  }

  function sorted(models, cols) {
    var col = cols.filter(function (c) { return c.key === state.sortKey; })[0] || cols[0];
    return models.slice().sort(function (a, b) {
      var va = value(a, col), vb = value(b, col);
      var ma = va === undefined || va === null, mb = vb === undefined || vb === null;
      if (ma || mb) { return ma === mb ? a.key.localeCompare(b.key) : (ma ? 1 : -1); }
      if (col.group) {  /* an average over fewer tasks ranks after every complete one */
        var ca = complete(a, col.group), cb = complete(b, col.group);
        if (ca !== cb) { return ca ? -1 : 1; }
      }
      if (va < vb) { return -state.sortDir; }
      if (va > vb) { return state.sortDir; }
      return a.key.localeCompare(b.key);
    });
  }

  function renderTabs() {
    var box = document.getElementById("tabs");
    box.textContent = "";
    [OVERALL].concat(D.types).forEach(function (t) {
      var b = el("button", { "class": "tab" + (t === state.tab ? " active" : ""), "data-tab": t, role: "tab", type: "button" }, t);
      b.addEventListener("click", function () {
        state.tab = t;
        state.sortKey = t === OVERALL ? "borda" : "avg:" + t;
        state.sortDir = t === OVERALL ? 1 : -1;
        render();
      });
      box.appendChild(b);
    });
  }

  function renderHead(cols) {
    var thead = document.querySelector("#board thead");
    thead.textContent = "";
    var tr = el("tr");
    cols.forEach(function (c) {
      var cls = [c.cls || "", c.sortable === false ? "" : "sortable"];
      if (c.key === state.sortKey) { cls.push(state.sortDir < 0 ? "sorted-desc" : "sorted-asc"); }
      var th = el("th", { "data-col": c.key, "class": cls.join(" ").trim(), title: (c.title ? c.title + "; " : "") + "click to sort" }, c.label);
      if (c.sortable !== false) {
        th.addEventListener("click", function () {
          if (state.sortKey === c.key) { state.sortDir = -state.sortDir; }
          else { state.sortKey = c.key; state.sortDir = ["model", "borda", "interval", "method"].indexOf(c.key) >= 0 ? 1 : -1; }
          render();
        });
      }
      tr.appendChild(th);
    });
    thead.appendChild(tr);
  }

  function bestPerColumn(models, cols) {
    var best = {};
    cols.forEach(function (c) {
      if (!c.group && !c.task) { return; }
      models.forEach(function (m) {
        var v = value(m, c);
        if (m.kind === "reference") { return; }  /* the ceiling row is a reference, not a contender */
        if (c.group && !complete(m, c.group)) { return; }  /* partial averages never "win" */
        if (isNum(v) && (!(c.key in best) || v > best[c.key])) { best[c.key] = v; }
      });
    });
    return best;
  }

  function details(m, span) {
    var tr = el("tr", { "class": "details", "data-details-for": m.key });
    var td = el("td", { colspan: String(span) });
    var dl = el("dl");
    var fields = [
      ["Name", m.name], ["Revision", m.revision], ["Parameters", isNum(m.n_parameters) ? m.n_parameters.toLocaleString("en-US") : ""],
      ["Embedding dimension", m.embed_dim], ["Max tokens", m.max_tokens], ["Licence", m.license], ["Labels", (m.labels || []).join(", ")],
      ["Zero-shot on this domain", m.zero_shot === false ? "no: " + m.contamination : "yes (as far as its metadata say)"],
      ["Base model", m.base_model], ["Training data", m.training_data],
      ["Sparsity", isNum(m.sparsity) ? (100 * m.sparsity).toFixed(0) + " %" : ""],
      ["Access", m.access === "api" ? "API" : "open weights"], ["Kind", m.kind]
    ];
    fields.forEach(function (f) {
      dl.appendChild(el("dt", {}, f[0]));
      dl.appendChild(el("dd", {}, f[1] === undefined || f[1] === null || f[1] === "" ? "–" : String(f[1])));
    });
    dl.appendChild(el("dt", {}, "MLflow run"));
    var dd = el("dd");
    if (m.mlflow_url) {
      var a = el("a", { href: m.mlflow_url, target: "_blank", rel: "noopener", "class": "mlflow-link" }, m.mlflow_run);
      dd.appendChild(a);
    } else { dd.textContent = "–"; }
    dl.appendChild(dd);
    td.appendChild(dl);
    tr.appendChild(td);
    return tr;
  }

  function renderBody(cols) {
    var tbody = document.querySelector("#board tbody");
    tbody.textContent = "";
    var models = sorted(visibleModels(), cols);
    var best = bestPerColumn(models, cols);
    models.forEach(function (m, i) {
      var rowCls = "model-row" + (TIED[m.key] ? " tied" : "") + (m.kind === "reference" ? " reference" : "");
      var tr = el("tr", { "class": rowCls, "data-model": m.key });
      cols.forEach(function (c) {
        var td = el("td", { "data-col": c.key, "class": c.cls || "" });
        if (c.key === "borda") { td.textContent = m.kind === "reference" ? "ref" : (bordaRank(m) === undefined ? "" : String(bordaRank(m))); }
        else if (c.key === "interval") {
          var iv = interval(m);
          td.textContent = iv ? (iv[0] === iv[1] ? String(iv[0]) : iv[0] + "–" + iv[1]) : "";
        }
        else if (c.key === "delta") {
          var d = delta(m);
          if (d) {
            td.textContent = signed(d.delta) + (isNum(d.lo) ? " [" + signed(d.lo) + ", " + signed(d.hi) + "]" : "");
            td.title = "vs " + d.base + " over " + d.n_tasks + " tasks" + (d.n_fixed ? " (" + d.n_fixed + " without per-item data held fixed)" : "");
            if (isNum(d.lo) && (d.lo > 0 || d.hi < 0)) { td.className += d.lo > 0 ? " gain" : " loss"; }
          }
        }
        else if (c.key === "method") { td.textContent = m.adaptation_method || ""; }
        else if (c.key === "sparsity") { td.textContent = isNum(m.sparsity) ? (100 * m.sparsity).toFixed(0) + "%" : ""; }
        else if (c.key === "synth") { td.textContent = isNum(m.synthetic_size) ? m.synthetic_size.toLocaleString("en-US") : ""; }
        else if (c.key === "maxtok") { td.textContent = isNum(m.max_tokens) ? String(m.max_tokens) : ""; }
        else if (c.key === "meantype") { td.textContent = fmt(value(m, c)); }
        else if (c.key === "model") {
          var b = el("button", { type: "button", "class": "model-name", "aria-expanded": state.open[m.key] ? "true" : "false" }, m.key);
          b.addEventListener("click", function () { state.open[m.key] = !state.open[m.key]; render(); });
          td.appendChild(b);
          if (m.kind === "adapted") { td.appendChild(el("span", { "class": "badge adapted" }, "adapted")); }
          if (m.access === "api") { td.appendChild(el("span", { "class": "badge api" }, "API")); }
          if (TIED[m.key]) {
            td.appendChild(el("span", { "class": "badge tied-marker", title: m.key === D.leader ? "the leader (best Mean(Task))" :
              "tied with the leader: its Mean(Task) is not significantly below " + D.leader + "'s (95% paired bootstrap)" },
              m.key === D.leader ? "leader" : "≈ leader"));
          }
          if (m.zero_shot === false) { td.appendChild(el("span", { "class": "badge contaminated", title: m.contamination }, "not zero-shot")); }
          if (m.kind === "reference") { td.appendChild(el("span", { "class": "badge reference", title: "reference row: BM25 top-100 reranked by the local cross-encoder, the ceiling of cross-encoder-labelled adaptation; not ranked" }, "ceiling")); }
          if ((m.labels || []).indexOf("int8-dequantized") >= 0) {
            td.appendChild(el("span", { "class": "badge", title: "fp32 weights rebuilt from an int8 ONNX export: scores differ from the published model" }, "int8-dequantized"));
          }
        } else if (c.key === "size") { td.textContent = millions(m.n_parameters); }
        else if (c.key === "dim") { td.textContent = isNum(m.embed_dim) ? String(m.embed_dim) : ""; }
        else {
          var v = value(m, c);
          td.textContent = fmt(v);
          if (isNum(v)) { td.setAttribute("data-value", String(v)); }
          if (isNum(v) && v === best[c.key] && m.kind !== "reference") { td.className += " best"; }
          if (c.group && isNum(v)) {
            var n = (D.counts[m.key] || {})[c.group] || 0, total = tasksOf(c.group).length;
            if (n < total) {
              td.appendChild(el("span", { "class": "partial", title: "mean over " + n + " of " + total + " tasks" }, "*"));
            }
          }
        }
        tr.appendChild(td);
      });
      tbody.appendChild(tr);
      if (state.open[m.key]) { tbody.appendChild(details(m, cols.length)); }
    });
    document.getElementById("empty").hidden = models.length > 0;
    document.getElementById("shown").textContent = models.length + " of " + D.models.length + " models shown";
  }

  function renderPlots() {
    var box = document.getElementById("plots");
    if (!box) { return; }
    box.textContent = "";
    Object.keys(D.plots || {}).forEach(function (key) {
      var fig = el("figure", { "class": "plot", "data-plot": key });
      fig.appendChild(el("img", { src: D.plots[key], alt: PLOT_TITLES[key] || key, loading: "eager" }));
      fig.appendChild(el("figcaption", {}, PLOT_TITLES[key] || key));
      box.appendChild(fig);
    });
  }

  function render() {
    var cols = columns();
    renderTabs();
    renderHead(cols);
    renderBody(cols);
  }

  ["min-size", "max-size"].forEach(function (id) { document.getElementById(id).addEventListener("input", render); });
  ["access", "kind", "zero-shot"].forEach(function (id) { document.getElementById(id).addEventListener("change", render); });
  document.getElementById("reset").addEventListener("click", function () {
    ["min-size", "max-size"].forEach(function (id) { document.getElementById(id).value = ""; });
    ["access", "kind"].forEach(function (id) { document.getElementById(id).value = "all"; });
    document.getElementById("zero-shot").checked = false;
    render();
  });
  renderPlots();
  render();
}());
