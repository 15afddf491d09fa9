// The message grid: an HTML table whose cells are page elements (selectable, copyable, read
// by screen readers). Sorting and filtering are decided in Python; this file draws the rows it
// is given, reports clicks on headers and rows, and moves the selection with the arrow keys.

function cell(tag, text, attrs) {
  const node = document.createElement(tag);
  if (text !== undefined && text !== null) node.textContent = text;
  for (const [name, value] of Object.entries(attrs || {})) node.setAttribute(name, value);
  return node;
}

function render({ model, el }) {
  const root = cell("div", null, { class: "docmail-grid" });
  const tools = cell("div", null, { class: "docmail-grid-tools" });
  const filter = cell("input", null, {
    type: "search",
    class: "docmail-grid-filter",
    placeholder: "Filter (key, address, any column)",
    "aria-label": "Filter messages",
  });
  const note = cell("span", null, { class: "docmail-grid-note", "aria-live": "polite" });
  tools.append(filter, note);
  const scroll = cell("div", null, { class: "docmail-grid-scroll", tabindex: "0" });
  const table = cell("table", null, { class: "docmail-grid-table", "aria-label": "Messages" });
  const head = cell("thead");
  const body = cell("tbody");
  table.append(head, body);
  scroll.append(table);
  root.append(tools, scroll);
  el.append(root);

  filter.value = model.get("query");
  let typing = null;
  filter.addEventListener("input", () => {
    clearTimeout(typing);
    typing = setTimeout(() => {
      model.set("query", filter.value);
      model.save_changes();
    }, 250);
  });

  function drawHead() {
    head.replaceChildren();
    const row = cell("tr");
    const sortBy = model.get("sort_by");
    const descending = model.get("descending");
    for (const column of model.get("columns")) {
      const sorted = column.key === sortBy;
      const th = cell("th", null, {
        scope: "col",
        class: `docmail-grid-${column.kind}`,
        "aria-sort": sorted ? (descending ? "descending" : "ascending") : "none",
      });
      const button = cell("button", column.label, {
        type: "button",
        class: "docmail-grid-sort",
        title: `Sort by ${column.label}`,
      });
      if (sorted) button.append(cell("span", descending ? " ▼" : " ▲", { "aria-hidden": "true" }));
      button.addEventListener("click", () => {
        if (model.get("sort_by") === column.key) {
          model.set("descending", !model.get("descending"));
        } else {
          model.set("sort_by", column.key);
          model.set("descending", false);
        }
        model.save_changes();
      });
      th.append(button);
      row.append(th);
    }
    head.append(row);
  }

  function drawBody() {
    body.replaceChildren();
    const columns = model.get("columns");
    const selected = model.get("selected");
    for (const item of model.get("rows")) {
      const tr = cell("tr", null, {
        "data-id": String(item.id),
        "aria-selected": item.id === selected ? "true" : "false",
        class: `docmail-grid-row docmail-row-${item.state.replace(/ /g, "-")}`,
      });
      columns.forEach((column, index) => {
        const text = item.cells[index] || "";
        const td = cell("td", null, { class: `docmail-grid-${column.kind}` });
        if (column.kind === "state") {
          td.append(cell("span", text, { class: `docmail-state docmail-state-${item.state.replace(/ /g, "-")}` }));
        } else {
          td.textContent = text;
        }
        if (text) td.setAttribute("title", item.titles[index] || text);
        tr.append(td);
      });
      tr.addEventListener("click", () => choose(item.id));
      body.append(tr);
    }
    note.textContent = model.get("note");
  }

  function choose(id) {
    model.set("selected", id);
    model.save_changes();
  }

  function showSelected() {
    const selected = model.get("selected");
    for (const tr of body.children) {
      const on = tr.dataset.id === String(selected);
      tr.setAttribute("aria-selected", on ? "true" : "false");
      if (on && root.contains(document.activeElement)) tr.scrollIntoView({ block: "nearest" });
    }
  }

  scroll.addEventListener("keydown", (event) => {
    if (event.key !== "ArrowDown" && event.key !== "ArrowUp") return;
    const ids = model.get("rows").map((item) => item.id);
    if (!ids.length) return;
    event.preventDefault();
    const at = ids.indexOf(model.get("selected"));
    const step = event.key === "ArrowDown" ? 1 : -1;
    const next = at < 0 ? 0 : Math.max(0, Math.min(ids.length - 1, at + step));
    choose(ids[next]);
  });

  model.on("change:columns", () => { drawHead(); drawBody(); });
  model.on("change:sort_by", drawHead);
  model.on("change:descending", drawHead);
  model.on("change:rows", drawBody);
  model.on("change:note", () => { note.textContent = model.get("note"); });
  model.on("change:selected", showSelected);
  model.on("change:query", () => {
    if (document.activeElement !== filter) filter.value = model.get("query");
  });
  drawHead();
  drawBody();
}

export default { render };
