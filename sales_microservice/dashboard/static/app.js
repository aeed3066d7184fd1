// The manager's dashboard: plain JavaScript on the public APIs of both services.
// The sales API is this page's own origin; the products API is PRODUCTS_PUBLIC_URL (CORS).
// Every element a test or a user needs to find carries a data-testid.
"use strict";

(() => {
  const meta = (name) => document.querySelector(`meta[name="${name}"]`).content;
  const PRODUCTS = meta("products-url");
  const TIMEZONE = meta("store-timezone");
  const OPTIONAL_REPORTS = new Set(meta("optional-reports").split(" ").filter(Boolean));
  const SALES = location.origin;
  const API = "/api/v1";
  const SESSION_KEY = "dashboard.session";
  const INTERVALS = ["day", "week", "month", "quarter", "year"];
  const COMPARES = ["none", "previous_period", "previous_year"];
  const PLOT_CONFIG = { displayModeBar: false, responsive: true };

  const byTestId = (id, root = document) => root.querySelector(`[data-testid="${id}"]`);
  const status = document.getElementById("status");

  // ---- session: tokens from /auth/token, refreshed a minute before they expire ----------

  let auth = null;
  let refreshTimer = 0;
  let refreshing = null;

  class ApiError extends Error {
    constructor(statusCode, problem) {
      super((problem && (problem.detail || problem.title)) || `HTTP ${statusCode}`);
      this.status = statusCode;
      this.problem = problem || {};
    }
  }

  function keepTokens(tokens, email) {
    auth = {
      access: tokens.access_token,
      refresh: tokens.refresh_token,
      expiresAt: Date.now() + tokens.expires_in * 1000,
      email,
    };
    sessionStorage.setItem(SESSION_KEY, JSON.stringify(auth));
    scheduleRefresh();
  }

  function scheduleRefresh() {
    clearTimeout(refreshTimer);
    const wait = Math.max(5000, auth.expiresAt - Date.now() - 60000);
    refreshTimer = setTimeout(() => refreshTokens().catch(() => {}), wait);
  }

  async function readBody(response) {
    if (response.status === 204) return null;
    const type = response.headers.get("content-type") || "";
    return type.includes("json") ? response.json() : response.text();
  }

  function refreshTokens() {
    if (!refreshing) {
      refreshing = (async () => {
        const response = await fetch(`${SALES}/auth/refresh`, {
          method: "POST",
          headers: { "Content-Type": "application/json" },
          body: JSON.stringify({ refresh_token: auth.refresh }),
        });
        if (!response.ok) {
          forget("Your session has ended: sign in again.");
          throw new ApiError(response.status, await readBody(response));
        }
        keepTokens(await response.json(), auth.email);
      })().finally(() => {
        refreshing = null;
      });
    }
    return refreshing;
  }

  async function call(base, path, options = {}) {
    const url = new URL(base + (options.root ? "" : API) + path);
    for (const [key, value] of Object.entries(options.params || {})) {
      if (value !== undefined && value !== null && value !== "") url.searchParams.set(key, value);
    }
    const send = () => {
      const headers = { Accept: "application/json", ...(options.headers || {}) };
      if (auth) headers.Authorization = `Bearer ${auth.access}`;
      let body = options.body;
      if (options.json !== undefined) {
        headers["Content-Type"] = "application/json";
        body = JSON.stringify(options.json);
      }
      return fetch(url, { method: options.method || "GET", headers, body });
    };
    let response = await send();
    if (response.status === 401 && auth) {
      await refreshTokens();
      response = await send();
    }
    if (options.optional && response.status === 404) return null;
    const payload = await readBody(response);
    if (!response.ok) throw new ApiError(response.status, payload);
    return payload;
  }

  const sales = (path, options) => call(SALES, path, options);
  const products = (path, options) => call(PRODUCTS, path, options);

  function idempotencyKey() {
    if (crypto.randomUUID) return crypto.randomUUID();
    const bytes = crypto.getRandomValues(new Uint8Array(16));
    return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  }

  // ---- sign-in ------------------------------------------------------------------------------

  const loginView = document.getElementById("login-view");
  const appView = document.getElementById("app-view");
  const loginError = document.getElementById("login-error");

  function showSignIn(message) {
    loginView.hidden = false;
    appView.hidden = true;
    document.getElementById("nav").hidden = true;
    document.getElementById("sign-out").hidden = true;
    document.getElementById("who").textContent = "";
    loginError.textContent = message || "";
  }

  function forget(message) {
    clearTimeout(refreshTimer);
    auth = null;
    sessionStorage.removeItem(SESSION_KEY);
    showSignIn(message);
  }

  async function revoke(refreshToken) {
    await fetch(`${SALES}/auth/logout`, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ refresh_token: refreshToken }),
    });
  }

  document.getElementById("login-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const form = event.target;
    loginError.textContent = "";
    const email = form.email.value.trim();
    const response = await fetch(`${SALES}/auth/token`, {
      method: "POST",
      body: new URLSearchParams({ username: email, password: form.password.value }),
    });
    const payload = await readBody(response);
    if (!response.ok) {
      loginError.textContent =
        response.status === 429
          ? "Too many failed attempts: wait a while, then try again."
          : (payload && payload.detail) || "Sign-in failed.";
      return;
    }
    keepTokens(payload, email);
    const account = await sales("/auth/me", { root: true }).catch(() => null);
    if (!account || account.role !== "admin") {
      const refreshToken = auth.refresh;
      forget("This dashboard is for managers: sign in with an admin account.");
      await revoke(refreshToken);
      return;
    }
    form.password.value = "";
    enter();
  });

  document.getElementById("sign-out").addEventListener("click", async () => {
    const refreshToken = auth && auth.refresh;
    forget("You are signed out.");
    if (refreshToken) await revoke(refreshToken);
  });

  function enter() {
    loginView.hidden = true;
    appView.hidden = false;
    document.getElementById("nav").hidden = false;
    document.getElementById("sign-out").hidden = false;
    document.getElementById("who").textContent = auth.email;
    route();
  }

  // ---- formatting, tables, CSV --------------------------------------------------------------

  const money = new Intl.NumberFormat(undefined, { minimumFractionDigits: 2, maximumFractionDigits: 2 });
  const count = new Intl.NumberFormat();
  const fmtMoney = (value) => (value === null || value === undefined ? "–" : money.format(Number(value)));
  const fmtCount = (value) => (value === null || value === undefined ? "–" : count.format(Number(value)));
  const fmtPercent = (value) => (value === null || value === undefined ? "–" : `${Number(value).toFixed(1)} %`);
  const fmtTime = (value) => (value ? new Date(value).toLocaleString(undefined, { timeZone: TIMEZONE }) : "");

  function cell(text) {
    const td = document.createElement("td");
    td.textContent = text === null || text === undefined ? "" : String(text);
    return td;
  }

  // Rows of `items`, each a <tr> with `attribute` = the item's id and the columns' cells.
  function fillTable(testId, items, columns, { attribute, key, onClick } = {}) {
    const body = byTestId(testId).querySelector("tbody");
    body.replaceChildren(
      ...items.map((item) => {
        const row = document.createElement("tr");
        if (attribute) row.setAttribute(attribute, item[key]);
        for (const [, render] of columns) {
          const value = render(item);
          row.append(value instanceof Node ? wrap(value) : cell(value));
        }
        if (onClick) {
          row.classList.add("clickable");
          row.addEventListener("click", (event) => {
            if (!(event.target instanceof HTMLButtonElement || event.target instanceof HTMLInputElement)) onClick(item);
          });
        }
        return row;
      }),
    );
    csvSources[testId] = { columns, items };
  }

  function wrap(node) {
    const td = document.createElement("td");
    td.append(node);
    return td;
  }

  // What each CSV button downloads: exactly the rows and columns its panel shows.
  const csvSources = {};
  const CSV_PANELS = {
    revenue: "revenue-chart",
    categories: "category-chart",
    products: "top-products-table",
    orders: "orders-chart",
    customers: "customers-chart",
    "top-customers": "top-customers-table",
    "low-stock": "low-stock-table",
    "inventory-value": "inventory-value-table",
    movements: "movements-table",
    "roll-forward": "roll-forward-table",
    "orders-list": "orders-table",
    "customers-list": "customers-table",
    reviews: "reviews-queue",
  };

  // A text cell a spreadsheet would run as a formula is prefixed with a quote, as the API's
  // own CSV exports do; numbers (negative ones too) stay numbers.
  function csvCell(value) {
    let text = value === null || value === undefined ? "" : String(value);
    if (/^[=+\-@\t\r]/.test(text) && !/^-?\d+(\.\d+)?$/.test(text)) text = `'${text}`;
    return /[",\r\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
  }

  function downloadCsv(name) {
    const source = csvSources[CSV_PANELS[name]];
    if (!source) return;
    const columns = source.columns.filter(([title]) => title);
    const lines = [columns.map(([title]) => csvCell(title)).join(",")];
    for (const item of source.items) {
      lines.push(columns.map(([, , raw]) => csvCell(raw ? raw(item) : "")).join(","));
    }
    const link = document.createElement("a");
    link.href = URL.createObjectURL(new Blob([lines.join("\r\n") + "\r\n"], { type: "text/csv" }));
    link.download = `${name}.csv`;
    link.click();
    setTimeout(() => URL.revokeObjectURL(link.href), 1000);
  }

  document.addEventListener("click", (event) => {
    const button = event.target.closest("button.csv");
    if (button) downloadCsv(button.dataset.csv);
  });

  // A column: [title, what the cell shows, the raw value the CSV gets].
  const col = (title, show, raw = show) => [title, show, raw];

  // plotly.js (4.7 MB) runs after this script: the data is asked for meanwhile, and every
  // view awaits this before it draws.
  const plotlyReady = new Promise((resolve, reject) => {
    const script = document.getElementById("plotly-script");
    if (window.Plotly) return resolve();
    script.addEventListener("load", () => resolve());
    script.addEventListener("error", () => reject(new Error("plotly.js did not load")));
  });

  function plot(testId, traces, layout, points) {
    const element = byTestId(testId);
    Plotly.react(element, traces, { margin: { t: 10, r: 10, b: 40, l: 60 }, height: 260, ...layout }, PLOT_CONFIG);
    element.dataset.points = String(points);
  }

  // ---- the address: #/view?key=value, so a view can be linked ---------------------------------

  function parseHash() {
    const [path, query] = location.hash.replace(/^#\/?/, "").split("?");
    return { view: path || "overview", params: new URLSearchParams(query || "") };
  }

  function setHash(view, params) {
    const query = new URLSearchParams(Object.entries(params).filter(([, v]) => v !== "" && v != null));
    const next = `#/${view}${query.size ? `?${query}` : ""}`;
    // Loading from now on, not from the hashchange event: a reader never sees the old view
    // as the new one's "ready".
    status.dataset.state = "loading";
    status.dataset.view = view;
    if (location.hash !== next) location.hash = next;
    else route();
  }

  let generation = 0;

  async function route() {
    if (!auth) return showSignIn();
    const { view, params } = parseHash();
    const loader = VIEWS[view] || VIEWS.overview;
    const name = VIEWS[view] ? view : "overview";
    for (const section of appView.querySelectorAll("section[data-view]")) {
      section.hidden = section.dataset.view !== name;
    }
    const mine = ++generation;
    status.dataset.view = name;
    status.dataset.state = "loading";
    status.textContent = "Loading…";
    status.className = "";
    try {
      await loader(params);
      if (mine !== generation) return;
      status.dataset.state = "ready";
      status.textContent = "";
    } catch (error) {
      if (mine !== generation || !auth) return;
      status.dataset.state = "error";
      status.className = "error";
      status.textContent = error.message;
    }
  }

  window.addEventListener("hashchange", route);

  // ---- overview -----------------------------------------------------------------------------

  const ISO_DAY = /^\d{4}-\d{2}-\d{2}$/;

  function today() {
    // en-CA writes dates as YYYY-MM-DD; the store's day, not the browser's.
    return new Intl.DateTimeFormat("en-CA", { timeZone: TIMEZONE }).format(new Date());
  }

  function addDays(day, days) {
    const date = new Date(`${day}T00:00:00Z`);
    date.setUTCDate(date.getUTCDate() + days);
    return date.toISOString().slice(0, 10);
  }

  function rangeOf(params) {
    let end = params.get("end");
    let start = params.get("start");
    if (!ISO_DAY.test(end || "")) end = today();
    if (!ISO_DAY.test(start || "")) start = addDays(end, -29);
    const interval = INTERVALS.includes(params.get("interval")) ? params.get("interval") : "day";
    const compare = COMPARES.includes(params.get("compare")) ? params.get("compare") : "none";
    return { start, end, interval, compare };
  }

  const controls = document.getElementById("overview-controls");
  controls.addEventListener("change", () => {
    setHash("overview", {
      start: controls.start.value,
      end: controls.end.value,
      interval: controls.interval.value,
      compare: controls.compare.value,
    });
  });
  controls.addEventListener("submit", (event) => event.preventDefault());
  document.getElementById("store-timezone").textContent = TIMEZONE;

  // The change against the comparison, in percent (or in points, for the margin).
  function changeText(change, compare, unit = "%") {
    if (compare === "none" || !change) return "";
    const value = typeof change === "object" ? change[unit === "%" ? "percentage" : "absolute"] : change;
    const against = compare === "previous_year" ? "last year" : "previous period";
    if (value === null || value === undefined) return `none in the ${against}`;
    const number = Number(value);
    return `${number > 0 ? "▲" : number < 0 ? "▼" : "="} ${Math.abs(number).toFixed(1)} ${unit} vs ${against}`;
  }

  function setKpi(testId, value, formatted, change, compare, source, unit = "%") {
    const card = byTestId(testId);
    card.dataset.value = value === null || value === undefined ? "" : String(value);
    card.dataset.source = source;
    card.querySelector("b").textContent = formatted;
    const small = card.querySelector("small");
    small.textContent = changeText(change, compare, unit);
    const number = change && typeof change === "object" ? Number(change.absolute) : Number(change);
    small.className = number > 0 ? "up" : number < 0 ? "down" : "";
  }

  async function loadOverview(params) {
    const range = rangeOf(params);
    controls.start.value = range.start;
    controls.end.value = range.end;
    controls.interval.value = range.interval;
    controls.compare.value = range.compare;
    const period = { start: range.start, end: range.end };
    const compared = { ...period, compare: range.compare };
    const series = { ...compared, interval: range.interval };
    const optional = (name, path, query) =>
      OPTIONAL_REPORTS.has(name) ? sales(path, { params: query, optional: true }) : Promise.resolve(null);
    const [summary, revenue, categories, top, orders, customers, topCustomers] = await Promise.all([
      sales("/analytics/summary", { params: compared }),
      sales("/analytics/revenue", { params: series }),
      sales("/analytics/revenue/by-category", { params: period }),
      sales("/analytics/revenue/by-product", { params: { ...period, limit: 10 } }),
      optional("orders", "/analytics/orders", series),
      optional("customers", "/analytics/customers", series),
      optional("top-customers", "/analytics/customers/top", { ...period, limit: 10 }),
    ]);
    await plotlyReady;
    const cmp = range.compare;
    setKpi("kpi-net-revenue", summary.net_revenue.value, fmtMoney(summary.net_revenue.value), summary.net_revenue.change, cmp, "summary");
    if (orders) {
      const change = orders.change || {};
      setKpi("kpi-orders", orders.totals.orders_paid, fmtCount(orders.totals.orders_paid), change.orders_paid, cmp, "orders");
      setKpi("kpi-average-order-value", orders.totals.average_order_value, fmtMoney(orders.totals.average_order_value), change.average_order_value, cmp, "orders");
    } else {
      // Until the order report exists, a sale transaction is the closest thing to an order.
      setKpi("kpi-orders", summary.sales_count.value, fmtCount(summary.sales_count.value), summary.sales_count.change, cmp, "summary");
      setKpi("kpi-average-order-value", summary.average_sale_value.value, fmtMoney(summary.average_sale_value.value), summary.average_sale_value.change, cmp, "summary");
    }
    byTestId("kpi-orders").querySelector("h3").textContent = orders ? "Orders paid" : "Sales";
    byTestId("kpi-average-order-value").querySelector("h3").textContent = orders ? "Average order value" : "Average sale";
    setKpi("kpi-units", summary.units.value, fmtCount(summary.units.value), summary.units.change, cmp, "summary");
    setKpi("kpi-profit", summary.profit.value, fmtMoney(summary.profit.value), summary.profit.change, cmp, "summary");
    setKpi("kpi-margin", summary.margin.value, fmtPercent(summary.margin.value), summary.margin.change, cmp, "summary", "pp");

    renderRevenue(revenue, range);
    renderCategories(categories);
    fillTable(
      "top-products-table",
      top.items,
      [
        col("SKU", (p) => p.sku),
        col("Product", (p) => p.name),
        col("Units", (p) => fmtCount(p.units), (p) => p.units),
        col("Net revenue", (p) => fmtMoney(p.net_revenue), (p) => p.net_revenue),
        col("Profit", (p) => fmtMoney(p.profit), (p) => p.profit),
      ],
      { attribute: "data-product-id", key: "product_id", onClick: (p) => setHash("inventory", { product: p.product_id }) },
    );
    renderOrders(orders);
    renderCustomers(customers);
    renderTopCustomers(topCustomers);
  }

  function renderRevenue(report, range) {
    const x = report.buckets.map((bucket) => bucket.start);
    const traces = [{ name: `${report.start} – ${report.end}`, x, y: report.buckets.map((b) => Number(b.net_revenue)), type: "scatter", mode: "lines+markers" }];
    const element = byTestId("revenue-chart");
    let rows = report.buckets.map((bucket) => ({ ...bucket }));
    if (report.comparison) {
      const previous = report.comparison.buckets;
      // Drawn on the current period's axis, bucket by bucket, so the two lines overlay.
      traces.push({
        name: `${report.comparison.start} – ${report.comparison.end}`,
        x: previous.map((_, i) => x[i] ?? previous[i].start),
        y: previous.map((b) => Number(b.net_revenue)),
        customdata: previous.map((b) => b.start),
        hovertemplate: "%{customdata}: %{y}",
        type: "scatter",
        mode: "lines+markers",
        line: { dash: "dot" },
        marker: { size: 4 },
      });
      rows = rows.map((bucket, i) => ({ ...bucket, comparison_start: previous[i]?.start, comparison_net_revenue: previous[i]?.net_revenue }));
      element.dataset.pointsComparison = String(previous.length);
    } else {
      delete element.dataset.pointsComparison;
    }
    plot("revenue-chart", traces, { showlegend: Boolean(report.comparison), legend: { orientation: "h" }, xaxis: { type: "date" } }, report.buckets.length);
    const columns = [
      col("Bucket start", (b) => b.start),
      col("Bucket end", (b) => b.end),
      col("Net revenue", (b) => b.net_revenue),
      col("Revenue", (b) => b.revenue),
      col("Refunds", (b) => b.refunds),
      col("Profit", (b) => b.profit),
      col("Units", (b) => b.units),
    ];
    if (report.comparison) {
      columns.push(col("Comparison start", (b) => b.comparison_start), col("Comparison net revenue", (b) => b.comparison_net_revenue));
    }
    csvSources["revenue-chart"] = { columns, items: rows };
    element.dataset.interval = range.interval;
  }

  function renderCategories(report) {
    const items = report.items;
    plot(
      "category-chart",
      [{ type: "bar", x: items.map((c) => c.category_name || `#${c.category_id}`), y: items.map((c) => Number(c.net_revenue)) }],
      { margin: { t: 10, r: 10, b: 90, l: 60 } },
      items.length,
    );
    csvSources["category-chart"] = {
      columns: [col("Category", (c) => c.category_name), col("Net revenue", (c) => c.net_revenue), col("Share %", (c) => c.share), col("Units", (c) => c.units), col("Profit", (c) => c.profit)],
      items,
    };
  }

  function renderOrders(report) {
    const panel = document.getElementById("orders-panel");
    panel.hidden = !report;
    if (!report) return;
    const x = report.buckets.map((b) => b.start);
    plot(
      "orders-chart",
      [
        { name: "placed", type: "bar", x, y: report.buckets.map((b) => b.orders_placed) },
        { name: "paid", type: "bar", x, y: report.buckets.map((b) => b.orders_paid) },
        { name: "cancelled", type: "bar", x, y: report.buckets.map((b) => b.orders_cancelled) },
        { name: "refunded", type: "bar", x, y: report.buckets.map((b) => b.orders_refunded) },
      ],
      { barmode: "group", legend: { orientation: "h" } },
      report.buckets.length,
    );
    csvSources["orders-chart"] = {
      columns: ["start", "end", "orders_placed", "orders_paid", "orders_cancelled", "orders_refunded", "paid_revenue", "average_order_value", "units_per_order", "cancellation_rate"].map((field) => col(field, (b) => b[field])),
      items: report.buckets,
    };
  }

  function renderCustomers(report) {
    const panel = document.getElementById("customers-panel");
    panel.hidden = !report;
    if (!report) return;
    const x = report.buckets.map((b) => b.start);
    plot(
      "customers-chart",
      [
        { name: "new", type: "bar", x, y: report.buckets.map((b) => b.new_customers) },
        { name: "returning", type: "bar", x, y: report.buckets.map((b) => b.returning_customers) },
      ],
      { barmode: "stack", legend: { orientation: "h" } },
      report.buckets.length,
    );
    csvSources["customers-chart"] = {
      columns: ["start", "end", "new_customers", "returning_customers", "active_customers", "repeat_rate"].map((field) => col(field, (b) => b[field])),
      items: report.buckets,
    };
  }

  function renderTopCustomers(report) {
    const panel = document.getElementById("top-customers-panel");
    panel.hidden = !report;
    if (!report) return;
    fillTable(
      "top-customers-table",
      report.items,
      [
        col("Customer", (c) => c.full_name),
        col("E-mail", (c) => c.email),
        col("Orders", (c) => c.orders),
        col("Net spend", (c) => fmtMoney(c.net_spend), (c) => c.net_spend),
        col("Average order", (c) => fmtMoney(c.average_order_value), (c) => c.average_order_value),
      ],
      { attribute: "data-customer-id", key: "customer_id", onClick: (c) => setHash("customers", { customer: c.customer_id }) },
    );
  }

  // ---- inventory ----------------------------------------------------------------------------

  let stockProductId = null;

  async function loadInventory(params) {
    const range = rangeOf(new URLSearchParams(sessionStorage.getItem("dashboard.range") || ""));
    const [lowStock, summary, rollForward] = await Promise.all([
      products("/inventory/low-stock", { params: { limit: 50 } }),
      products("/inventory/summary"),
      products("/inventory/roll-forward", { params: { start: range.start, end: range.end, limit: 50 }, optional: true }),
    ]);
    fillTable(
      "low-stock-table",
      lowStock.items,
      [
        col("SKU", (p) => p.sku),
        col("Product", (p) => p.name),
        col("Available", (p) => p.available),
        col("Threshold", (p) => p.low_stock_threshold),
        col("Shortfall", (p) => p.shortfall),
        col("Days of cover", (p) => (p.days_of_cover === null ? "–" : p.days_of_cover), (p) => p.days_of_cover),
      ],
      { attribute: "data-product-id", key: "product_id", onClick: (p) => setHash("inventory", { product: p.product_id }) },
    );
    fillTable("inventory-value-table", summary.by_category, [
      col("Category", (c) => c.category_name),
      col("Products", (c) => c.product_count),
      col("Units", (c) => fmtCount(c.total_units), (c) => c.total_units),
      col("At cost", (c) => fmtMoney(c.value_at_cost), (c) => c.value_at_cost),
      col("At price", (c) => fmtMoney(c.value_at_price), (c) => c.value_at_price),
    ]);
    if (rollForward) {
      const sum = (item, ...kinds) => kinds.reduce((total, kind) => total + item[kind], 0);
      fillTable(
        "roll-forward-table",
        rollForward.items,
        [
          col("SKU", (p) => p.sku),
          col("Product", (p) => p.name),
          col("Opening", (p) => p.opening_units),
          col("In", (p) => sum(p, "initial", "restock", "import", "return")),
          col("Sold", (p) => p.sale),
          col("Out (other)", (p) => sum(p, "damage", "adjustment", "correction")),
          col("Closing", (p) => p.closing_units),
          col("Closing value", (p) => fmtMoney(p.closing_value), (p) => p.closing_value),
        ],
        { attribute: "data-product-id", key: "product_id" },
      );
    }
    const wanted = Number(params.get("product")) || (lowStock.items[0] && lowStock.items[0].product_id);
    if (wanted) await showStock(wanted);
  }

  async function showStock(productId) {
    stockProductId = productId;
    byTestId("stock-product-id").value = productId;
    const [product, levels, movements] = await Promise.all([
      products(`/products/${productId}`),
      products(`/products/${productId}/inventory/levels`, { params: { interval: "day" } }),
      products(`/products/${productId}/inventory/movements`, { params: { limit: 25 } }),
    ]);
    await plotlyReady;
    byTestId("stock-product").textContent = `${product.name} (${product.sku})`;
    const points = levels.points;
    plot(
      "stock-chart",
      [{ type: "scatter", mode: "lines", line: { shape: "hv" }, x: points.map((p) => p.period_start), y: points.map((p) => p.level), name: "on hand" }],
      { xaxis: { type: "date" } },
      points.length,
    );
    byTestId("stock-chart").dataset.productId = String(productId);
    fillTable(
      "movements-table",
      movements.items,
      [
        col("When", (m) => fmtTime(m.created_at), (m) => m.created_at),
        col("Kind", (m) => m.kind),
        col("Change", (m) => (m.delta > 0 ? `+${m.delta}` : m.delta), (m) => m.delta),
        col("After", (m) => m.quantity_after),
        col("Reference", (m) => m.reference),
        col("Note", (m) => m.note),
      ],
      { attribute: "data-movement-id", key: "id" },
    );
  }

  document.getElementById("stock-picker").addEventListener("submit", (event) => {
    event.preventDefault();
    const id = Number(event.target.product_id.value);
    if (id > 0) setHash("inventory", { product: id });
  });

  document.getElementById("adjust-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const form = event.target;
    const message = byTestId("adjust-message");
    if (!stockProductId) return;
    const quantity = Number(form.quantity.value);
    const body = form.mode.value === "delta" ? { delta: quantity, kind: form.kind.value } : { set_to: quantity, kind: form.kind.value };
    if (form.note.value.trim()) body.note = form.note.value.trim();
    try {
      const result = await products(`/products/${stockProductId}/inventory/adjustments`, {
        method: "POST",
        json: body,
        headers: { "Idempotency-Key": idempotencyKey() },
      });
      message.className = "ok";
      message.textContent = `Recorded: now ${result.on_hand ?? result.quantity_after ?? ""} on hand.`;
      form.quantity.value = "";
      form.note.value = "";
      await route();
    } catch (error) {
      message.className = "error";
      message.textContent = error.message;
    }
  });

  // ---- orders and customers -----------------------------------------------------------------

  const NEXT_ACTIONS = {
    pending: [["Cancel", "cancel"]],
    paid: [["Ship", "shipped"], ["Refund", "cancel"]],
    shipped: [["Deliver", "delivered"]],
  };

  const ordersFilter = document.getElementById("orders-filter");
  ordersFilter.addEventListener("submit", (event) => {
    event.preventDefault();
    setHash("orders", { status: ordersFilter.status.value, customer: ordersFilter.customer_id.value });
  });

  async function loadOrders(params) {
    ordersFilter.status.value = params.get("status") || "";
    ordersFilter.customer_id.value = params.get("customer") || "";
    const page = await sales("/orders", { params: { status: params.get("status"), customer_id: params.get("customer"), limit: 50 } });
    fillTable(
      "orders-table",
      page.items,
      [
        col("#", (o) => o.id),
        col("Placed", (o) => fmtTime(o.created_at), (o) => o.created_at),
        col("Customer", (o) => o.customer_id),
        col("Status", (o) => o.status),
        col("Total", (o) => fmtMoney(o.total), (o) => o.total),
      ],
      { attribute: "data-order-id", key: "id", onClick: (o) => setHash("orders", { ...Object.fromEntries(params), order: o.id }) },
    );
    const detail = document.getElementById("order-detail");
    detail.hidden = !params.get("order");
    if (params.get("order")) await showOrder(Number(params.get("order")));
  }

  async function showOrder(orderId) {
    const detail = document.getElementById("order-detail");
    const [order, history] = await Promise.all([sales(`/orders/${orderId}`), sales(`/orders/${orderId}/history`)]);
    detail.dataset.orderId = String(order.id);
    detail.querySelector('[data-field="id"]').textContent = `#${order.id}`;
    detail.querySelector('[data-field="status"]').textContent = order.status;
    fillTable("order-lines", order.items, [
      col("Product", (i) => i.product_id),
      col("Quantity", (i) => i.quantity),
      col("Unit price", (i) => fmtMoney(i.unit_price), (i) => i.unit_price),
      col("Line total", (i) => fmtMoney(i.line_total), (i) => i.line_total),
    ]);
    fillTable("order-history", Array.isArray(history) ? history : history.items || [], [
      col("When", (h) => fmtTime(h.created_at)),
      col("From", (h) => h.from_status || ""),
      col("To", (h) => h.to_status),
      col("Reason", (h) => h.reason),
    ]);
    const actions = byTestId("order-actions");
    actions.replaceChildren(
      ...(NEXT_ACTIONS[order.status] || []).map(([label, next]) => {
        const button = document.createElement("button");
        button.type = "button";
        button.textContent = label;
        button.dataset.testid = `order-${label.toLowerCase()}`;
        button.addEventListener("click", () => actOnOrder(order.id, next));
        return button;
      }),
    );
  }

  async function actOnOrder(orderId, next) {
    const reason = byTestId("order-reason").value.trim() || "By the manager";
    try {
      if (next === "cancel") {
        await sales(`/orders/${orderId}/cancel`, { method: "POST", json: { reason }, headers: { "Idempotency-Key": idempotencyKey() } });
      } else {
        await sales(`/orders/${orderId}/status`, { method: "POST", json: { status: next } });
      }
      await route();
    } catch (error) {
      status.className = "error";
      status.textContent = error.message;
    }
  }

  const customersFilter = document.getElementById("customers-filter");
  customersFilter.addEventListener("submit", (event) => {
    event.preventDefault();
    setHash("customers", { q: customersFilter.q.value.trim() });
  });

  async function loadCustomers(params) {
    customersFilter.q.value = params.get("q") || "";
    const page = await sales("/customers", { params: { q: params.get("q"), role: "customer", limit: 50 } });
    fillTable(
      "customers-table",
      page.items,
      [
        col("#", (c) => c.id),
        col("Name", (c) => c.full_name),
        col("E-mail", (c) => c.email),
        col("Wallet", (c) => fmtMoney(c.wallet_balance), (c) => c.wallet_balance),
        col("Active", (c) => (c.is_active ? "yes" : "no"), (c) => c.is_active),
      ],
      { attribute: "data-customer-id", key: "id", onClick: (c) => setHash("customers", { ...Object.fromEntries(params), customer: c.id }) },
    );
    const detail = document.getElementById("customer-detail");
    const id = Number(params.get("customer"));
    detail.hidden = !id;
    if (!id) return;
    const [customer, entries, orders] = await Promise.all([
      sales(`/customers/${id}`),
      sales(`/customers/${id}/wallet/entries`, { params: { limit: 50 } }),
      sales(`/customers/${id}/orders`, { params: { limit: 50 } }),
    ]);
    detail.dataset.customerId = String(id);
    detail.querySelector('[data-field="full_name"]').textContent = customer.full_name;
    detail.querySelector('[data-field="email"]').textContent = customer.email;
    detail.querySelector('[data-field="wallet_balance"]').textContent = fmtMoney(customer.wallet_balance);
    fillTable("customer-wallet-entries", entries.items, [
      col("When", (e) => fmtTime(e.created_at)),
      col("Kind", (e) => e.kind),
      col("Amount", (e) => fmtMoney(e.amount)),
      col("Balance after", (e) => fmtMoney(e.balance_after)),
    ]);
    fillTable(
      "customer-orders",
      orders.items,
      [col("#", (o) => o.id), col("Placed", (o) => fmtTime(o.created_at)), col("Status", (o) => o.status), col("Total", (o) => fmtMoney(o.total))],
      { attribute: "data-order-id", key: "id", onClick: (o) => setHash("orders", { order: o.id }) },
    );
  }

  // ---- reviews ------------------------------------------------------------------------------

  async function loadReviews() {
    const page = await products("/reviews", { params: { status: "pending", limit: 50 } });
    fillTable(
      "reviews-queue",
      page.items,
      [
        col("Product", (r) => r.product_id),
        col("Rating", (r) => "★".repeat(r.rating), (r) => r.rating),
        col("Review", (r) => [r.title, r.body].filter(Boolean).join(": ")),
        col("Written", (r) => fmtTime(r.created_at), (r) => r.created_at),
        ["", (r) => moderationNote(r)],
        ["", (r) => moderationButtons(r)],
      ],
      { attribute: "data-review-id", key: "id" },
    );
  }

  function moderationNote(review) {
    const input = document.createElement("input");
    input.name = `note-${review.id}`;
    input.maxLength = 500;
    input.placeholder = "Note (optional)";
    input.dataset.testid = "review-note";
    return input;
  }

  function moderationButtons(review) {
    const span = document.createElement("span");
    for (const decision of ["approve", "reject"]) {
      const button = document.createElement("button");
      button.type = "button";
      button.textContent = decision === "approve" ? "Approve" : "Reject";
      button.dataset.testid = `review-${decision}`;
      button.addEventListener("click", () => moderate(review.id, decision, button.closest("tr")));
      span.append(button);
    }
    return span;
  }

  async function moderate(reviewId, decision, row) {
    const note = row.querySelector("input").value.trim();
    try {
      await products(`/reviews/${reviewId}/moderation`, { method: "POST", json: note ? { decision, note } : { decision } });
      row.remove();
      status.className = "ok";
      status.textContent = `Review ${reviewId} ${decision === "approve" ? "approved" : "rejected"}.`;
    } catch (error) {
      status.className = "error";
      status.textContent = error.message;
    }
  }

  // ---- import -------------------------------------------------------------------------------

  const importForm = document.getElementById("import-form");
  const importSubmit = document.getElementById("import-submit");
  const importResult = byTestId("import-result");
  let checkedFile = null;

  importForm.file.addEventListener("change", () => {
    checkedFile = null;
    importSubmit.disabled = true;
  });

  async function sendImport(dryRun) {
    const file = importForm.file.files[0];
    if (!file) return;
    const body = new FormData();
    body.append("file", file);
    const params = { dry_run: dryRun, on_error: "abort", create_categories: importForm.create_categories.checked };
    importResult.className = "";
    importResult.textContent = dryRun ? "Checking…" : "Importing…";
    let report;
    try {
      report = await products("/products/import", { method: "POST", body, params });
    } catch (error) {
      report = error.problem && error.problem.report;
      if (!report) {
        importResult.className = "error";
        importResult.textContent = error.message;
        fillTable("import-errors", [], []);
        return;
      }
    }
    showImportReport(report);
    checkedFile = dryRun && report.failed === 0 ? file : null;
    importSubmit.disabled = !checkedFile;
  }

  function showImportReport(report) {
    const words = report.dry_run ? "would be" : "were";
    importResult.className = report.failed ? "error" : "ok";
    importResult.dataset.failed = String(report.failed);
    importResult.textContent = report.failed
      ? `${report.failed} of ${report.rows} rows have errors (${report.errors_total} in all); nothing ${report.dry_run ? "would be" : "was"} imported.`
      : `${report.rows} rows: ${report.created} ${words} created, ${report.updated} updated, ${report.unchanged} unchanged.`;
    fillTable(
      "import-errors",
      report.errors,
      [col("Line", (e) => e.line), col("Column", (e) => e.column || ""), col("Problem", (e) => e.reason)],
      { attribute: "data-line", key: "line" },
    );
  }

  document.getElementById("import-dry-run").addEventListener("click", () => sendImport(true));
  importSubmit.addEventListener("click", () => {
    if (checkedFile && importForm.file.files[0] === checkedFile) sendImport(false);
  });

  // ---- start --------------------------------------------------------------------------------

  const VIEWS = {
    overview: async (params) => {
      const range = rangeOf(params);
      sessionStorage.setItem("dashboard.range", new URLSearchParams({ start: range.start, end: range.end }).toString());
      await loadOverview(params);
    },
    inventory: loadInventory,
    orders: loadOrders,
    customers: loadCustomers,
    reviews: loadReviews,
    import: async () => {},
  };

  try {
    auth = JSON.parse(sessionStorage.getItem(SESSION_KEY));
  } catch {
    auth = null;
  }
  if (auth && auth.access) {
    scheduleRefresh();
    enter();
  } else {
    auth = null;
    showSignIn();
  }
})();
