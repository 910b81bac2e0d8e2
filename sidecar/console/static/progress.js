// Follows a purge or an export started from the console: reads its progress every second and shows it.
"use strict";

const UNITS = ["B", "kB", "MB", "GB", "TB"];

// Bytes for people, as the console's size filter writes them: 1.4 MB.
function size(bytes) {
  let value = Number(bytes) || 0;
  for (const unit of UNITS) {
    if (value < 1000 || unit === "TB") {
      return unit === "B" ? `${value.toFixed(0)} B` : `${value.toFixed(1)} ${unit}`;
    }
    value /= 1000;
  }
  return "";
}

function show(box, progress) {
  const bar = box.querySelector("progress");
  const isExport = "sent" in progress;
  bar.max = Math.max(isExport ? Math.max(progress.bytes, progress.sent) : progress.planned_camshots, 1);
  bar.value = isExport ? progress.sent : progress.camshots;
  for (const field of box.querySelectorAll("[data-field]")) {
    const name = field.dataset.field;
    if (name === "done") {
      field.textContent = progress.state === "done" ? ": the download is complete." : "…";
    } else if (name in progress) {
      field.textContent = isExport ? size(progress[name]) : Number(progress[name]).toLocaleString("en");
    }
  }
}

function follow(box) {
  const poll = async() => {
    let progress = null;
    try {
      const answer = await fetch(box.dataset.progressUrl, {headers: {Accept: "application/json"}});
      progress = answer.ok ? await answer.json() : null;
    } catch (error) {
      progress = null; // the sidecar restarting; the next poll asks again
    }
    // Before an export's download reaches the sidecar, it is waiting: ask again.
    if (progress && progress.state !== "waiting") {
      show(box, progress);
      if (progress.state === "done") {
        if ("reloadWhenDone" in box.dataset) {
          window.location.reload();
        }
        return;
      }
    }
    window.setTimeout(poll, 1000);
  };
  poll();
}

for (const box of document.querySelectorAll("[data-progress-url]")) {
  const form = document.querySelector(`form[data-follow="${box.id}"]`);
  if (form) {
    form.addEventListener("submit", () => {
      box.hidden = false;
      follow(box);
    });
  } else {
    follow(box);
  }
}
