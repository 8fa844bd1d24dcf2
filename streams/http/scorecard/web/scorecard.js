// crmkpi scorecard: renders the board pushed by /events, numbers in the formats it carries.
"use strict";

(() => {
  const WINDOWS = ["1h", "24h", "7d", "30d", "prev_24h", "prev_7d", "prev_30d", "mtd", "qtd"];
  const page = {
    catalogue: [],
    tiles: {},
    history: {},
    points: 150,
    window: windowFromHash() || "30d",
    open: null, // KPI name whose breakdown is shown
    previous: {}, // window -> the period just before it (kpis/windows.py)
  };
  const $ = (id) => document.getElementById(id);
  const el = (tag, props = {}, ...children) => {
    const node = document.createElement(tag);
    Object.assign(node, props);
    node.append(...children);
    return node;
  };
  const svg = (tag) => document.createElementNS("http://www.w3.org/2000/svg", tag);

  function windowFromHash() {
    const found = /window=([0-9a-z_]+)/.exec(location.hash);
    return found && WINDOWS.includes(found[1]) ? found[1] : null;
  }

  // --- numbers --------------------------------------------------------------------------
  const formats = new Map();
  function formatter(options) {
    const key = JSON.stringify(options);
    if (!formats.has(key)) formats.set(key, new Intl.NumberFormat(undefined, options));
    return formats.get(key);
  }
  function number(value, digits, sign = "auto") {
    return formatter({ minimumFractionDigits: digits, maximumFractionDigits: digits, signDisplay: sign })
      .format(value);
  }
  // Amounts in the configured currency: its symbol (or code), compact from a thousand ($22.5M).
  function money(currency, amount, sign) {
    const compact = Math.abs(amount) >= 1000
      ? { notation: "compact", minimumFractionDigits: 0, maximumFractionDigits: 1 } : {};
    return formatter({ style: "currency", currency, signDisplay: sign, ...compact }).format(amount);
  }
  // How a KPI's unit is shown comes from the server (kpis/units.py): one format everywhere.
  function format(unit, value) {
    if (value === null || value === undefined) return "–";
    const shown = value * unit.scale;
    if (unit.currency) return money(unit.currency, shown, "auto");
    const small = unit.small_decimals !== null && Math.abs(shown) < 1000;
    const sign = unit.signed && shown > 0 ? "+" : "";
    return sign + number(shown, small ? unit.small_decimals : unit.decimals) + unit.suffix;
  }
  // A change against the previous period, always signed; a percent changes by points.
  function formatChange(unit, delta) {
    const shown = delta * unit.scale;
    if (unit.currency) return money(unit.currency, shown, "exceptZero");
    const small = unit.small_decimals !== null && Math.abs(shown) < 1000;
    const suffix = unit.suffix === "%" ? " pp" : unit.suffix;
    return number(shown, small ? unit.small_decimals : unit.decimals, "exceptZero") + suffix;
  }
  // Fills `node` with the arrow and signed change, coloured better / worse by the KPI's direction.
  function renderChange(node, kpi, window, delta) {
    const known = delta !== null && delta !== undefined;
    const trend = !known ? "" : delta > 0 ? "up" : delta < 0 ? "down" : "flat";
    const better = kpi.better === "lower" ? "down" : "up";
    node.dataset.delta = known ? String(delta) : "";
    node.dataset.trend = trend;
    node.dataset.verdict = !known ? "" : trend === "flat" ? "same" : trend === better ? "better" : "worse";
    node.textContent = known ? `${{ up: "▲", down: "▼", flat: "▬" }[trend]} ${formatChange(kpi.format, delta)}` : "";
    node.title = known ? `Change against ${page.previous[window]}` : "";
  }
  // A goal's progress as the server computed it (kpis/goals.py): attainment of the target,
  // pace where it applies, on track or behind.
  const percent = (fraction) => (fraction === null ? "–" : `${number(fraction * 100, 0)}%`);
  function goalText(kpi, goal) {
    const target = `${kpi.better === "lower" ? "≤ " : ""}${format(kpi.format, goal.target)}`;
    const pace = "pace" in goal ? ` · pace ${percent(goal.pace)}` : "";
    return `${percent(goal.attainment)} of ${target} goal${pace}`;
  }
  function goalNode() {
    return el("div", { className: "goal" },
      el("div", { className: "goal-track" }, el("div", { className: "goal-fill" })),
      el("span", { className: "goal-text" }));
  }
  // Fills a goalNode() with `goal` (or empties it): a bar to 100 % of the target and the text.
  function renderGoal(node, kpi, goal) {
    const known = (value) => (value === null || value === undefined ? "" : String(value));
    node.dataset.target = goal ? String(goal.target) : "";
    node.dataset.attainment = goal ? known(goal.attainment) : "";
    node.dataset.pace = goal ? known(goal.pace) : "";
    node.dataset.verdict = !goal || goal.on_track === null ? "" : goal.on_track ? "on-track" : "behind";
    node.querySelector(".goal-fill").style.width = goal && goal.attainment
      ? `${Math.min(100, 100 * goal.attainment)}%` : "0";
    node.querySelector(".goal-text").textContent = goal ? goalText(kpi, goal) : "";
  }
  const shownWindow = (kpi) => (kpi.windows.includes(page.window) ? page.window : kpi.windows.at(-1));

  // --- layout (once per catalogue) ------------------------------------------------------
  function layout(groups, churnGroup) {
    const main = $("groups");
    main.replaceChildren();
    for (const group of groups) {
      const tiles = el("div", { className: "tiles" });
      for (const kpi of page.catalogue.filter((k) => k.group === group)) tiles.append(tile(kpi));
      if (group === churnGroup) tiles.append(churnCard());
      const section = el("section", { className: "group" }, el("h2", { textContent: group }), tiles);
      section.dataset.group = group;
      main.append(section);
    }
  }

  function tile(kpi) {
    const node = el("article", { className: "tile", tabIndex: 0, title: kpi.description });
    node.setAttribute("role", "button");
    node.dataset.kpi = kpi.name;
    node.dataset.state = "ok";
    const line = svg("polyline");
    const spark = svg("svg");
    spark.setAttribute("class", "spark");
    spark.setAttribute("viewBox", "0 0 100 20");
    spark.setAttribute("preserveAspectRatio", "none");
    spark.setAttribute("aria-hidden", "true");
    spark.append(line);
    node.append(
      el("h3", { className: "name", textContent: kpi.title }),
      el("span", { className: "window" }),
      el("span", { className: "badge" }),
      el("p", { className: "value", textContent: "–" }),
      el("div", { className: "trend" }, spark, el("span", { className: "delta" })),
      goalNode(),
    );
    node.addEventListener("click", () => openBreakdown(kpi.name));
    node.addEventListener("keydown", (event) => {
      if (event.key === "Enter" || event.key === " ") {
        event.preventDefault();
        openBreakdown(kpi.name);
      }
    });
    return node;
  }

  function churnCard() {
    const body = el("tbody");
    const table = el("table", {},
      el("thead", {}, el("tr", {}, ...["Customer", "Segment", "Signals"].map((t) => el("th", { textContent: t })))),
      body);
    return el("article", { className: "churn", id: "churn" },
      el("h3", {}, "Churn risk", el("span", { className: "num", id: "churn-count", textContent: "–" })),
      el("p", { className: "segments", id: "churn-segments" }),
      el("div", { className: "list" }, table));
  }

  // --- rendering ------------------------------------------------------------------------
  function renderTile(kpi) {
    const node = document.querySelector(`.tile[data-kpi="${kpi.name}"]`);
    const window = shownWindow(kpi);
    const view = (page.tiles[kpi.name] || {})[window] || { value: null, state: "ok" };
    node.dataset.state = view.state;
    node.dataset.window = window;
    node.querySelector(".window").textContent = window;
    const value = node.querySelector(".value");
    value.dataset.value = view.value === null ? "" : String(view.value);
    value.textContent = format(kpi.format, view.value);
    node.querySelector(".badge").textContent = view.state === "ok" ? "" : view.state;
    const change = node.querySelector(".delta");
    renderChange(change, kpi, window, view.delta);
    renderGoal(node.querySelector(".goal"), kpi, view.goal);
    node.setAttribute("aria-label", `${kpi.title}, ${window}: ${value.textContent}` +
      (change.textContent ? `, ${change.dataset.verdict} than ${page.previous[window]}: ${change.textContent}` : "") +
      (view.goal ? `, ${goalText(kpi, view.goal)}` : "") +
      (view.state === "ok" ? "" : `, ${view.state}`));
    renderSpark(kpi, node);
  }

  function renderSpark(kpi, node) {
    const values = ((page.history[kpi.name] || {})[shownWindow(kpi)] || []).filter((v) => v !== null);
    const line = node.querySelector("polyline");
    if (values.length < 2) {
      line.setAttribute("points", "");
      return;
    }
    const low = Math.min(...values);
    const span = Math.max(...values) - low;
    const step = 100 / (page.points - 1);
    const start = 100 - step * (values.length - 1);
    const points = values.map((v, i) => {
      const y = span === 0 ? 10 : 19 - (18 * (v - low)) / span;
      return `${(start + i * step).toFixed(2)},${y.toFixed(2)}`;
    });
    line.setAttribute("points", points.join(" "));
  }

  function renderStatus(status) {
    $("watermark").textContent = status.watermark
      ? status.watermark.replace("T", " ").replace(/(\.\d+)?Z$/, " UTC") : "–";
    $("lag").textContent = status.lag === null ? "unknown" : number(status.lag, 0);
    $("accepted").textContent = number(status.accepted, 0);
    const reasons = Object.entries(status.rejected);
    const rejected = $("rejected");
    rejected.replaceChildren(...(reasons.length === 0 ? [el("span", { textContent: "0" })] :
      reasons.map(([reason, count]) => {
        const item = el("span", { textContent: `${reason} ${number(count, 0)}` });
        item.dataset.reason = reason;
        item.dataset.count = String(count);
        return item;
      })));
    page.stale = status.stale_since ? `The store was unreachable since ${status.stale_since}: values may be stale.` : null;
    renderProblem();
  }

  function renderProblem() {
    const text = [page.stale, page.thresholdsProblem].filter(Boolean).join(" ");
    $("problem").hidden = !text;
    $("problem").textContent = text;
  }

  function renderChurn(churn) {
    $("churn-count").textContent = number(churn.customers.length, 0);
    $("churn-segments").textContent = Object.entries(churn.at_risk_by_segment)
      .map(([segment, count]) => `${segment} ${count}`).join(" · ");
    const rows = churn.customers.map((c) => el("tr", {},
      el("td", { textContent: c.customer_id }), el("td", { textContent: c.segment }),
      el("td", { textContent: c.signals.join(", ") })));
    document.querySelector("#churn tbody").replaceChildren(...rows);
  }

  function renderBreakdown() {
    const kpi = page.catalogue.find((k) => k.name === page.open);
    if (!kpi) return;
    const window = shownWindow(kpi);
    const view = (page.tiles[kpi.name] || {})[window] || { value: null, breakdown: [] };
    const dialog = $("breakdown");
    dialog.dataset.kpi = kpi.name;
    dialog.dataset.window = window;
    $("breakdown-title").textContent = `${kpi.title} by ${kpi.dimension}, ${window}`;
    $("breakdown-total").textContent = `Overall ${format(kpi.format, view.value)}` +
      (view.goal ? `, ${goalText(kpi, view.goal)}` : "") + ` · ${view.breakdown.length} ${kpi.dimension} values`;
    $("bars").dataset.goals = String(view.breakdown.some((bar) => bar[4]));
    const largest = Math.max(0, ...view.breakdown.map(([, v]) => Math.abs(v || 0)));
    $("bars").replaceChildren(...view.breakdown.map(([name, value, state, delta, goal]) => {
      const fill = el("div", { className: "bar-fill" });
      fill.style.width = largest > 0 ? `${(100 * Math.abs(value || 0)) / largest}%` : "0";
      const shown = el("span", { className: "bar-value", textContent: format(kpi.format, value) });
      shown.dataset.value = value === null ? "" : String(value);
      const change = el("span", { className: "delta" });
      renderChange(change, kpi, window, delta);
      const progress = goalNode();
      renderGoal(progress, kpi, goal);
      const item = el("li", {}, el("span", { className: "bar-label", textContent: name, title: name }),
        el("div", { className: "bar-track" }, fill), shown, change, progress);
      item.dataset.name = name;
      item.dataset.state = state;
      return item;
    }));
  }

  function renderAll() {
    for (const kpi of page.catalogue) renderTile(kpi);
    for (const button of document.querySelectorAll(".windows button")) {
      button.setAttribute("aria-checked", String(button.dataset.window === page.window));
    }
    if (page.open) renderBreakdown();
  }

  // --- interaction ----------------------------------------------------------------------
  function openBreakdown(name) {
    page.open = name;
    renderBreakdown();
    if (!$("breakdown").open) $("breakdown").showModal();
  }

  function chooseWindow(window) {
    page.window = window;
    history.replaceState(null, "", `#window=${window}`);
    renderAll();
  }

  // --- the stream -----------------------------------------------------------------------
  function onBoard(board) {
    page.catalogue = board.catalogue;
    page.tiles = board.tiles;
    page.history = board.history;
    page.points = board.spark_points;
    page.previous = board.previous;
    page.thresholdsProblem = board.thresholds_problem;
    layout(board.groups, board.churn_group);
    renderStatus(board.status);
    renderChurn(board.churn);
    renderAll();
    document.body.dataset.ready = "true";
  }

  function onUpdate(changed) {
    Object.assign(page.tiles, changed.tiles || {});
    for (const name of Object.keys(changed.tiles || {})) {
      renderTile(page.catalogue.find((k) => k.name === name));
    }
    if (changed.tiles && page.open in changed.tiles) renderBreakdown();
    if (changed.status) renderStatus(changed.status);
    if (changed.churn) renderChurn(changed.churn);
  }

  function onSample(sample) {
    for (const [kpi, windows] of Object.entries(sample)) {
      const series = (page.history[kpi] ||= {});
      for (const [window, value] of Object.entries(windows)) {
        const values = (series[window] ||= []);
        values.push(value);
        if (values.length > page.points) values.splice(0, values.length - page.points);
      }
    }
    for (const kpi of page.catalogue) renderSpark(kpi, document.querySelector(`.tile[data-kpi="${kpi.name}"]`));
  }

  function setConnection(state) {
    const node = $("connection");
    node.dataset.connection = state;
    node.textContent = state;
  }

  function connect() {
    const source = new EventSource("events");
    const on = (name, handle) => source.addEventListener(name, (event) => handle(JSON.parse(event.data)));
    on("board", onBoard);
    on("update", onUpdate);
    on("sample", onSample);
    source.onopen = () => setConnection("live");
    source.onerror = () => {
      setConnection("reconnecting");
      // The browser retries by itself unless the server answered with an error status.
      if (source.readyState === EventSource.CLOSED) setTimeout(connect, 2000);
    };
  }

  for (const button of document.querySelectorAll(".windows button")) {
    button.addEventListener("click", () => chooseWindow(button.dataset.window));
  }
  $("breakdown").addEventListener("close", () => { page.open = null; });
  window.addEventListener("hashchange", () => chooseWindow(windowFromHash() || page.window));
  renderAll();
  connect();
})();
