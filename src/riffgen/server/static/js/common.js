// Shared helpers: API calls (with the optional API key), audio decoding, WAV encoding.

export const $ = (id) => document.getElementById(id);

// The decoder chosen in the settings panel ("" = the server's default), for every tool.
const DECODERS = ["griffin-lim", "vocoder", "original"];
export function decoder() {
  const value = localStorage.getItem("riffgen.decoder") || "";
  return DECODERS.includes(value) ? value : "";
}

export function setDecoder(value) {
  if (DECODERS.includes(value)) localStorage.setItem("riffgen.decoder", value);
  else localStorage.removeItem("riffgen.decoder");
}

// Adds the chosen decoder to a multipart form (nothing for the server's default).
export function appendDecoder(form) {
  if (decoder()) form.append("decoder", decoder());
  return form;
}

// The steps inputs start at the served model's default (health's default_steps; mini: 20)
// unless the user chose a value (typed one, or a share link's): those are kept.
const STEPS_INPUTS = ["steps", "transform-steps"];
export function markStepsChosen(input) {
  input.dataset.chosen = "1";
}

export function applyDefaultSteps(steps) {
  const n = Math.floor(Number(steps));
  if (!Number.isFinite(n) || n < 1) return;
  for (const id of STEPS_INPUTS) {
    const input = $(id);
    if (input && !input.dataset.chosen) {
      input.value = String(Math.min(n, Number(input.max) || n));
    }
  }
}

export function initStepsInputs() {
  for (const id of STEPS_INPUTS) {
    const input = $(id);
    if (input) input.addEventListener("input", () => markStepsChosen(input));
  }
}

export function apiKey() {
  return localStorage.getItem("riffgen.apiKey") || "";
}

function headers(extra = {}) {
  const key = apiKey();
  return key ? { ...extra, "X-API-Key": key } : extra;
}

// Turns a FastAPI error body into one readable line.
export function errorText(status, body) {
  if (body && Array.isArray(body.detail)) {
    return body.detail.map((d) => `${(d.loc || []).slice(1).join(".") || "request"}: ${d.msg}`).join("; ");
  }
  if (body && body.detail) return String(body.detail);
  return `HTTP ${status}`;
}

export class ApiError extends Error {
  constructor(status, message, retryAfter) {
    super(message);
    this.status = status;
    this.retryAfter = retryAfter;
  }
}

async function handle(resp) {
  if (resp.ok) return resp;
  let body = null;
  try { body = await resp.json(); } catch (_) { /* not JSON */ }
  const retry = Number(resp.headers.get("Retry-After") || 0);
  let msg = errorText(resp.status, body);
  if (resp.status === 503 && retry) msg += ` (server busy, retry in ${retry} s)`;
  throw new ApiError(resp.status, msg, retry);
}

export async function getJSON(path) {
  return (await handle(await fetch(path, { headers: headers() }))).json();
}

export async function postJSON(path, body, { signal } = {}) {
  const resp = await fetch(path, {
    method: "POST", signal, body: JSON.stringify(body),
    headers: headers({ "Content-Type": "application/json" }),
  });
  return (await handle(resp)).json();
}

export async function postForm(path, form, { signal, raw = false } = {}) {
  const resp = await handle(await fetch(path, { method: "POST", body: form, signal, headers: headers() }));
  return raw ? resp : resp.json();
}

export function wsUrl(path) {
  const url = new URL(path, location.href);
  url.protocol = location.protocol === "https:" ? "wss:" : "ws:";
  if (apiKey()) url.searchParams.set("api_key", apiKey());
  return url.toString();
}

let ctx = null;
export function audioContext() {
  if (!ctx) ctx = new (window.AudioContext || window.webkitAudioContext)();
  return ctx;
}

export async function decodeDataUrl(dataUrl) {
  const bytes = await (await fetch(dataUrl)).arrayBuffer();
  return audioContext().decodeAudioData(bytes);
}

export function loadImage(src) {
  return new Promise((resolve, reject) => {
    const img = new Image();
    img.onload = () => resolve(img);
    img.onerror = () => reject(new Error("cannot load image"));
    img.src = src;
  });
}

export function dataUrlToBlob(dataUrl) {
  const [head, b64] = dataUrl.split(",");
  const mime = head.slice(5).split(";")[0];
  const bin = atob(b64);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return new Blob([out], { type: mime });
}

// 16-bit PCM WAV of Float32 channels (all the same length).
export function encodeWav(channels, sampleRate) {
  const n = channels[0].length, nch = channels.length;
  const buf = new ArrayBuffer(44 + n * nch * 2);
  const v = new DataView(buf);
  const str = (o, s) => { for (let i = 0; i < s.length; i++) v.setUint8(o + i, s.charCodeAt(i)); };
  str(0, "RIFF"); v.setUint32(4, 36 + n * nch * 2, true); str(8, "WAVE");
  str(12, "fmt "); v.setUint32(16, 16, true); v.setUint16(20, 1, true); v.setUint16(22, nch, true);
  v.setUint32(24, sampleRate, true); v.setUint32(28, sampleRate * nch * 2, true);
  v.setUint16(32, nch * 2, true); v.setUint16(34, 16, true);
  str(36, "data"); v.setUint32(40, n * nch * 2, true);
  let o = 44;
  for (let i = 0; i < n; i++) {
    for (let c = 0; c < nch; c++) {
      const s = Math.max(-1, Math.min(1, channels[c][i]));
      v.setInt16(o, s < 0 ? s * 0x8000 : s * 0x7fff, true);
      o += 2;
    }
  }
  return new Blob([buf], { type: "audio/wav" });
}

export function download(blob, name) {
  const a = document.createElement("a");
  a.href = URL.createObjectURL(blob);
  a.download = name;
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(a.href), 10000);
}

export function setStatus(el, text, kind = "") {
  el.textContent = text;
  el.dataset.kind = kind;
}
