// Entry point: tabs, the API key field, server health; each tool initialises itself.
import { $, applyDefaultSteps, getJSON, initStepsInputs } from "./common.js";
import { initDraw } from "./draw.js";
import { initInpaint } from "./inpaint.js";
import { initPlayer } from "./player.js";
import { initTransform } from "./transform.js";

function initTabs() {
  const tabs = [...document.querySelectorAll("[role=tab]")];
  const select = (tab) => {
    for (const t of tabs) {
      const on = t === tab;
      t.setAttribute("aria-selected", String(on));
      t.tabIndex = on ? 0 : -1;
      $(t.getAttribute("aria-controls")).hidden = !on;
    }
    history.replaceState(null, "", `${location.search}#${tab.id.slice(4)}`);
  };
  tabs.forEach((tab, i) => {
    tab.addEventListener("click", () => select(tab));
    tab.addEventListener("keydown", (ev) => {
      const step = ev.key === "ArrowRight" ? 1 : ev.key === "ArrowLeft" ? -1 : 0;
      if (!step) return;
      const next = tabs[(i + step + tabs.length) % tabs.length];
      next.focus();
      select(next);
    });
  });
  const initial = tabs.find((t) => `#${t.id.slice(4)}` === location.hash);
  if (initial) select(initial);
}

async function initServer() {
  const key = $("api-key");
  key.value = localStorage.getItem("riffgen.apiKey") || "";
  key.addEventListener("change", () => localStorage.setItem("riffgen.apiKey", key.value.trim()));
  try {
    const h = await getJSON("/api/v1/health");
    const w = h.workers.map((x) => `${x.device} (${x.queued}/${x.max_queue} busy)`).join(", ");
    $("server-status").textContent = `riffgen ${h.version}, model ${h.model}, ${w}`;
    const option = document.querySelector('#decoder option[value=""]');
    if (option && h.decoder) option.textContent = `Server default (${h.decoder})`;
    if (h.default_steps) applyDefaultSteps(h.default_steps);
  } catch (err) {
    $("server-status").textContent = `Server unreachable: ${err.message}`;
  }
}

initTabs();
initStepsInputs();
initServer();
initPlayer();
initDraw();
initTransform();
initInpaint();
