// The page of `torchsystem serve`: types, identities as you type, checkpoints and their training curves.
// Plain DOM and SVG, no library and nothing fetched from elsewhere: the server may have no network.
"use strict";

const $ = (selector) => document.querySelector(selector);

/// Calls the API with the token (kept for the tab's life only); rejects with the server's error text.
async function api(path, options = {}) {
  const headers = Object.assign({}, options.headers || {});
  const token = sessionStorage.getItem("token");
  if (token) headers.Authorization = "Bearer " + token;
  const response = await fetch(path, Object.assign({}, options, { headers }));
  const body = await response.json().catch(() => ({ error: response.statusText, code: "unreadable" }));
  if (!response.ok) {
    const error = new Error(body.error || response.statusText);
    error.status = response.status;
    error.body = body;
    throw error;
  }
  return body;
}

function element(tag, properties = {}, children = []) {
  const node = document.createElement(tag);
  Object.assign(node, properties);
  for (const child of children) node.append(child);
  return node;
}

// ---- types -------------------------------------------------------------------------------------------

let types = [];

function showTypes() {
  const words = $("#types-search").value.toLowerCase().split(/\s+/).filter(Boolean);
  const body = $("#types tbody");
  body.replaceChildren();
  let shown = 0;
  for (const type of types) {
    const haystack = (type.kind + " " + type.text).toLowerCase();
    if (!words.every((word) => haystack.includes(word))) continue;
    body.append(element("tr", {}, [element("td", { textContent: type.kind }), element("td", { textContent: type.text })]));
    shown += 1;
  }
  $("#types-count").textContent = shown === types.length ? `(${types.length})` : `(${shown} of ${types.length})`;
}

async function loadTypes() {
  types = (await api("/v1/registry/types")).types;
  showTypes();
}

// ---- identity ----------------------------------------------------------------------------------------

let identityRequest = 0;

async function showIdentity() {
  const asked = ++identityRequest;
  const text = $("#config").value;
  try {
    JSON.parse(text);
  } catch (error) {
    $("#identity-error").textContent = "not JSON yet: " + error.message;
    return;
  }
  try {
    // The text goes as typed: JavaScript reads 2.0 as 2, and the identity tells them apart, as Python does.
    const identity = await api("/v1/identity", { method: "POST", body: text });
    if (asked !== identityRequest) return;  // a later keystroke's answer wins
    $("#hash").textContent = identity.hash;
    $("#identity-text").textContent = identity.text;
    $("#identity-error").textContent = "";
  } catch (error) {
    if (asked !== identityRequest) return;
    $("#hash").textContent = "";
    $("#identity-text").textContent = "";
    $("#identity-error").textContent = error.message;
  }
}

// ---- checkpoints -------------------------------------------------------------------------------------

/// `text` cut to `length` characters with an ellipsis; the whole text stays in the cell's title.
const shortened = (text, length) => (text.length > length ? text.slice(0, length - 1) + "…" : text);

async function loadCheckpoints() {
  const all = [];
  let page;
  do {
    page = await api(`/v1/checkpoints?offset=${all.length}&limit=1000`);
    all.push(...page.checkpoints);
  } while (page.checkpoints.length > 0 && all.length < page.total);
  $("#checkpoints-count").textContent = `(${all.length})`;
  $("#damaged").textContent = page.damaged.length ? "damaged:\n" + page.damaged.join("\n") : "";
  const body = $("#checkpoints tbody");
  body.replaceChildren();
  for (const checkpoint of all) {
    const identity = checkpoint.name + "-" + checkpoint.hash;
    const download = element("a", { href: `/v1/checkpoints/${identity}/file`, textContent: "file" });
    const row = element("tr", {}, [
      element("td", { textContent: checkpoint.name }),
      element("td", { textContent: checkpoint.hash }),
      element("td", { textContent: checkpoint.epoch }),
      element("td", { textContent: checkpoint.size.toLocaleString("en") }),
      element("td", { textContent: checkpoint.modified }),
      element("td", { textContent: shortened(JSON.stringify(checkpoint.arguments), 40), title: JSON.stringify(checkpoint.arguments) }),
      element("td", {}, [download]),
    ]);
    row.dataset.identity = identity;
    row.addEventListener("click", () => showCurves(checkpoint, row));
    body.append(row);
  }
  if (all.length > 0) showCurves(all[0], body.firstChild);
}

// ---- curves ------------------------------------------------------------------------------------------

const SVG = "http://www.w3.org/2000/svg";

function svg(tag, attributes) {
  const node = document.createElementNS(SVG, tag);
  for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, value);
  return node;
}

/// Loss (left axis) and test accuracy (right axis, 0 to 1) per epoch, from the checkpoint's history.
function showCurves(checkpoint, row) {
  for (const chosen of document.querySelectorAll("#checkpoints tr.chosen")) chosen.classList.remove("chosen");
  row.classList.add("chosen");
  $("#curves-title").textContent = `${checkpoint.name}-${checkpoint.hash}`;
  const plot = $("#curves");
  plot.replaceChildren();
  const history = checkpoint.history || [];
  if (history.length === 0) {
    plot.append(svg("text", { x: 320, y: 150, "text-anchor": "middle", fill: "#6b7380" }));
    plot.lastChild.textContent = "no history in this checkpoint";
    $("#curves-legend").replaceChildren();
    return;
  }
  const left = 50, right = 590, top = 20, bottom = 260;
  const epochs = history.map((record) => record.epoch);
  const series = [
    { key: "loss", label: "training loss", color: "#1f6feb", axis: "loss" },
    { key: "test_loss", label: "test loss", color: "#8957e5", axis: "loss" },
    { key: "test_accuracy", label: "test accuracy", color: "#1a7f37", axis: "accuracy" },
  ].filter((line) => history.every((record) => typeof record[line.key] === "number"));
  const losses = series.filter((line) => line.axis === "loss").flatMap((line) => history.map((record) => record[line.key]));
  const maxLoss = Math.max(...losses, 1e-9) * 1.1;
  const first = Math.min(...epochs), last = Math.max(...epochs);
  const x = (epoch) => (last === first ? (left + right) / 2 : left + ((epoch - first) / (last - first)) * (right - left));
  const y = (value, axis) => bottom - (axis === "loss" ? value / maxLoss : value) * (bottom - top);

  plot.append(svg("line", { x1: left, y1: bottom, x2: right, y2: bottom, stroke: "#8b949e" }));
  plot.append(svg("line", { x1: left, y1: top, x2: left, y2: bottom, stroke: "#8b949e" }));
  plot.append(svg("line", { x1: right, y1: top, x2: right, y2: bottom, stroke: "#8b949e" }));
  const label = (text, attributes) => {
    const node = svg("text", Object.assign({ "font-size": 11, fill: "#57606a" }, attributes));
    node.textContent = text;
    plot.append(node);
  };
  for (const epoch of epochs) label(String(epoch), { x: x(epoch), y: bottom + 15, "text-anchor": "middle" });
  label("epoch", { x: (left + right) / 2, y: bottom + 32, "text-anchor": "middle" });
  for (let i = 0; i <= 4; ++i) {
    label((maxLoss * i / 4).toFixed(2), { x: left - 5, y: y(maxLoss * i / 4, "loss") + 4, "text-anchor": "end" });
    label((i / 4).toFixed(2), { x: right + 5, y: y(i / 4, "accuracy") + 4 });
  }
  for (const line of series) {
    const points = history.map((record) => `${x(record.epoch)},${y(record[line.key], line.axis)}`).join(" ");
    plot.append(svg("polyline", { points, fill: "none", stroke: line.color, "stroke-width": 2, "data-series": line.key }));
    for (const record of history) {
      const dot = svg("circle", { cx: x(record.epoch), cy: y(record[line.key], line.axis), r: 3, fill: line.color });
      dot.append(svg("title", {}));
      dot.firstChild.textContent = `${line.label}, epoch ${record.epoch}: ${record[line.key].toFixed(4)}`;
      plot.append(dot);
    }
  }
  $("#curves-legend").replaceChildren(
    ...series.map((line) => element("span", {}, [element("i", { style: `background:${line.color}` }), line.label])));
}

// ---- start -------------------------------------------------------------------------------------------

async function start() {
  $("#token").value = sessionStorage.getItem("token") || "";
  try {
    await Promise.all([loadTypes(), loadCheckpoints(), showIdentity()]);
    $("#status").textContent = "connected";
  } catch (error) {
    $("#status").textContent = error.status === 401 ? "this server needs its token" : "error: " + error.message;
  }
}

let typing;
$("#config").addEventListener("input", () => {
  clearTimeout(typing);
  typing = setTimeout(showIdentity, 120);
});
$("#types-search").addEventListener("input", showTypes);
$("#token").addEventListener("change", () => {
  sessionStorage.setItem("token", $("#token").value);
  start();
});
start();
