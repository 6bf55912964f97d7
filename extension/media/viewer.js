// Renders the view sent by the extension. Everything from the file goes in as textContent,
// never as HTML: key names come from an untrusted checkpoint.
(function () {
  const vscode = acquireVsCodeApi();
  const title = document.getElementById("title");
  const summary = document.getElementById("summary");
  const banner = document.getElementById("banner");
  const filter = document.getElementById("filter");
  const content = document.getElementById("content");
  let view = null;

  function el(tag, text, className) {
    const node = document.createElement(tag);
    if (text !== undefined && text !== null) node.textContent = String(text);
    if (className) node.className = className;
    return node;
  }

  function number(n) {
    return n === null || n === undefined ? "—" : Number(n).toLocaleString("en-US");
  }

  function showBanner(lines, isError) {
    banner.replaceChildren();
    banner.hidden = lines.length === 0;
    banner.classList.toggle("error", Boolean(isError));
    for (const line of lines) banner.appendChild(el("div", line));
    if (isError) {
      const logs = el("button", "Show Logs");
      logs.addEventListener("click", () => vscode.postMessage({ type: "showLogs" }));
      const retry = el("button", "Retry");
      retry.addEventListener("click", () => vscode.postMessage({ type: "reload" }));
      banner.append(logs, retry);
    }
  }

  function matches(row, needle) {
    if (!needle) return true;
    return row.key.toLowerCase().includes(needle) || row.shape.includes(needle) || row.dtype.includes(needle);
  }

  function render() {
    if (!view) return;
    const needle = filter.value.trim().toLowerCase();
    content.replaceChildren();
    let shown = 0;
    for (const group of view.groups) {
      const rows = group.rows.filter((r) => matches(r, needle));
      if (rows.length === 0) continue;
      shown += rows.length;
      const details = el("details");
      details.open = view.groups.length <= 20 || Boolean(needle);
      const head = el("summary", group.name);
      head.appendChild(
        el("span", `${rows.length} keys · ${number(group.parameters)} parameters`, "muted"),
      );
      details.appendChild(head);
      const table = el("table");
      const header = el("tr");
      for (const h of ["key", "shape", "dtype", "parameters", "bytes"]) header.appendChild(el("th", h));
      table.appendChild(header);
      for (const row of rows) {
        const tr = el("tr");
        tr.title = row.key;
        tr.dataset.key = row.key;
        tr.append(
          el("td", row.name, "key"),
          el("td", row.shape),
          el("td", row.dtype),
          el("td", number(row.parameters), "num"),
          el("td", number(row.bytes), "num"),
        );
        table.appendChild(tr);
      }
      details.appendChild(table);
      content.appendChild(details);
    }
    if (shown === 0) content.appendChild(el("p", needle ? "No key matches the filter." : "This checkpoint holds no tensors.", "muted"));
  }

  window.addEventListener("message", (event) => {
    const message = event.data;
    if (message.type === "view") {
      view = message.view;
      title.textContent = view.title;
      summary.replaceChildren(
        el("span", view.format),
        el("span", `${number(view.totals.tensors)} tensors`),
        el("span", `${view.totals.parametersText} parameters`),
        el("span", `${view.totals.bytesText} of tensor data`),
        el("span", `file ${view.fileSize}`),
      );
      if (view.shards.length > 0) summary.appendChild(el("span", `${view.shards.length} shards`));
      showBanner(view.error ? [view.error] : view.warnings, Boolean(view.error));
      filter.disabled = false;
      render();
    } else if (message.type === "error") {
      title.textContent = "Could not read this checkpoint";
      content.replaceChildren();
      showBanner([message.message], true);
    }
  });

  filter.addEventListener("input", render);
  vscode.postMessage({ type: "ready" });
})();
