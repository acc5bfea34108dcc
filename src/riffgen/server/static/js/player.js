// The endless player: a WebSocket jam stream, scheduled gaplessly with the Web Audio API.
import {
  $, audioContext, decodeDataUrl, decoder, download, encodeWav, getJSON, loadImage, markStepsChosen,
  setDecoder, wsUrl,
} from "./common.js";

const RANDOM_PROMPTS = [
  "funky bass line with jazz piano", "lo-fi hip hop beat with vinyl crackle", "church organ hymn",
  "reggae guitar skank", "techno kick with acid synth", "bossa nova guitar and soft drums",
  "epic orchestral strings", "bluegrass banjo", "smooth saxophone solo", "synthwave arpeggio",
  "tabla and sitar raga", "dubstep wobble bass", "piano ballad", "surf rock guitar",
  "marimba and steel drums", "chiptune video game melody", "gospel choir", "flamenco guitar",
  "deep house chords", "heavy metal riff", "ambient pads with rain", "swing big band brass",
];
const MAX_SESSION_S = 20 * 60; // audio kept for the session download (about 200 MB of samples)
const VIEW_S = 12; // seconds of spectrogram visible in the scrolling view
const XFADE_S = 0.05; // crossfade at seams the server could not join (settings change, underrun)

const state = {
  ws: null, playing: false, started: false, clips: [], queue: [], nextTime: null, lastGain: null,
  sessionS: 0, reported: -1, behindUntil: 0, underruns: 0, waitingFirst: false, seedImages: [],
  settingsTimer: null, current: null,
};

function settings() {
  return {
    seed: Math.max(0, Math.floor(Number($("seed").value) || 0)),
    seed_image: $("seed-image").value || "og_beat",
    denoising: Number($("denoising").value),
    num_inference_steps: Math.max(1, Math.floor(Number($("steps").value) || 30)),
    decoder: decoder() || null, // null: the server's default
  };
}

function renderQueue() {
  const list = $("queue");
  list.replaceChildren();
  for (const text of state.queue) {
    const li = document.createElement("li");
    li.textContent = text;
    list.append(li);
  }
  $("queue-empty").hidden = state.queue.length > 0;
}

function send(msg) {
  if (state.ws && state.ws.readyState === WebSocket.OPEN) state.ws.send(JSON.stringify(msg));
}

function addPrompt(mode) {
  const input = $("prompt");
  const text = input.value.trim();
  if (!text) { input.focus(); return; }
  if (mode === "now") state.queue = [text];
  else state.queue.push(text);
  renderQueue();
  send({ type: "prompt", prompt: text, mode });
  input.value = "";
}

function connect() {
  // The prompt in the box (typed, or the first of a share link) plays first; a reconnect goes on
  // with the prompt that was playing; otherwise the first queued one.
  const typed = $("prompt").value.trim();
  const first = typed || state.current || state.queue.shift() || RANDOM_PROMPTS[0];
  state.current = first;
  state.reported = -1; // a new session numbers its clips from 0 again: report them as they play
  renderQueue();
  const ws = new WebSocket(wsUrl("/api/v1/jam"));
  state.ws = ws;
  state.waitingFirst = true;
  ws.onopen = () => {
    $("prompt").value = "";
    ws.send(JSON.stringify({ type: "start", prompts: [first, ...state.queue], format: "wav",
                             buffer_ahead: 3, ...settings() }));
  };
  ws.onmessage = (ev) => onMessage(JSON.parse(ev.data), ws);
  ws.onclose = (ev) => {
    if (state.ws === ws) {
      state.ws = null;
      if (state.playing) $("now-playing").textContent = `Disconnected (${ev.reason || ev.code}); press Play to reconnect`;
      setPlaying(false);
    }
  };
}

async function onMessage(msg, ws) {
  if (msg.type === "clip") await onClip(msg, ws);
  else if (msg.type === "error") $("now-playing").textContent = `Server: ${msg.message}`;
  else if (msg.type === "busy") $("now-playing").textContent = `Server busy, retrying in ${msg.retry_after_s} s…`;
  else if (msg.type === "started") state.started = true;
}

function clipLabel(msg) {
  if (msg.transition) return `${msg.start.prompt} → ${msg.end.prompt}`;
  return msg.end.prompt;
}

async function onClip(msg, ws) {
  const ctx = audioContext();
  const [buffer, image] = await Promise.all([decodeDataUrl(msg.audio), loadImage(msg.image)]);
  const now = ctx.currentTime;
  const gain = ctx.createGain();
  const source = ctx.createBufferSource();
  source.buffer = buffer;
  source.connect(gain).connect(ctx.destination);
  let start;
  if (state.nextTime === null || state.nextTime < now + 0.03) {
    // First clip, or the stream ran dry: start soon and fade in instead of clicking.
    if (state.nextTime !== null) { state.underruns++; state.behindUntil = performance.now() + 6000; }
    start = now + 0.08;
    gain.gain.setValueAtTime(0, start);
    gain.gain.linearRampToValueAtTime(1, start + XFADE_S);
  } else if ((msg.restart || (msg.seq === 0 && state.clips.length)) && state.lastGain) {
    // A new engine after a settings change or a reconnect: its audio does not continue the old
    // one; crossfade.
    start = state.nextTime - XFADE_S;
    state.lastGain.gain.setValueAtTime(1, start);
    state.lastGain.gain.linearRampToValueAtTime(0, start + XFADE_S);
    gain.gain.setValueAtTime(0, start);
    gain.gain.linearRampToValueAtTime(1, start + XFADE_S);
  } else {
    start = state.nextTime; // the server already joined the seam: play back to back
  }
  source.start(start);
  state.nextTime = start + buffer.duration;
  state.lastGain = gain;
  state.waitingFirst = false;
  const keep = state.sessionS < MAX_SESSION_S;
  state.clips.push({
    seq: msg.seq, ws, label: clipLabel(msg), prompt: msg.end.prompt, start, duration: buffer.duration,
    streamStart: state.sessionS, image, imageDuration: msg.image_duration_s || buffer.duration,
    buffer: keep ? buffer : null, gen: msg.elapsed_s,
  });
  state.sessionS += buffer.duration;
  if (state.queue.length && msg.end.prompt === state.queue[0]) { state.queue.shift(); renderQueue(); }
  state.current = msg.end.prompt;
  $("download-wav").disabled = false;
  $("download-png").disabled = false;
  renderTimeline();
}

function setPlaying(on) {
  state.playing = on;
  const btn = $("play");
  btn.textContent = on ? "❚❚ Pause" : "▶ Play";
  btn.setAttribute("aria-pressed", String(on));
}

async function togglePlay() {
  const ctx = audioContext();
  if (state.playing) {
    await ctx.suspend();
    setPlaying(false);
    $("now-playing").textContent = "Paused";
    return;
  }
  await ctx.resume();
  setPlaying(true);
  if (!state.ws) {
    $("now-playing").textContent = "Generating the first clip…";
    // After a disconnect the clips already scheduled play out; the new stream follows them.
    if (state.nextTime !== null && state.nextTime < ctx.currentTime) state.nextTime = null;
    connect();
  }
}

function currentClip(now) {
  for (let i = state.clips.length - 1; i >= 0; i--) {
    const c = state.clips[i];
    if (c.start <= now) return now < c.start + c.duration ? c : null;
  }
  return null;
}

function drawScroll(now) {
  const canvas = $("scroll");
  const rect = canvas.getBoundingClientRect();
  const w = Math.max(300, Math.round(rect.width * devicePixelRatio));
  const h = Math.max(120, Math.round(rect.height * devicePixelRatio));
  if (canvas.width !== w || canvas.height !== h) { canvas.width = w; canvas.height = h; }
  const g = canvas.getContext("2d");
  g.fillStyle = "#fff";
  g.fillRect(0, 0, w, h);
  const pps = w / VIEW_S;
  const head = w * 0.35; // the playhead: past on the left, buffered future on the right
  g.imageSmoothingEnabled = true;
  for (const c of state.clips) {
    const x = head + (c.start - now) * pps;
    const cw = c.duration * pps;
    if (x > w || x + cw < 0) continue;
    const srcW = c.image.naturalWidth * Math.min(1, c.duration / c.imageDuration);
    g.drawImage(c.image, 0, 0, srcW, c.image.naturalHeight, x, 0, cw, h);
    if (c.start > now) { g.fillStyle = "rgba(255,255,255,0.35)"; g.fillRect(x, 0, cw, h); }
  }
  g.font = `${Math.round(13 * devicePixelRatio)}px system-ui, sans-serif`;
  let lastLabel = null;
  for (const c of state.clips) {
    const x = head + (c.start - now) * pps;
    if (c.label !== lastLabel && x > -200 && x < w) {
      g.fillStyle = "rgba(16,19,24,0.75)";
      const tw = g.measureText(c.label).width + 12;
      g.fillRect(x, 4, tw, 22 * devicePixelRatio);
      g.fillStyle = "#fff";
      g.fillText(c.label, x + 6, 4 + 16 * devicePixelRatio);
    }
    lastLabel = c.label;
  }
  g.fillStyle = "#ff8a3d";
  g.fillRect(head - 1, 0, 2 * devicePixelRatio, h);
}

const COLORS = ["#ffb27a", "#9fd3ff", "#b9f0a4", "#f5a3d6", "#ffe28a", "#c7b6ff", "#8ff0e0"];

function renderTimeline() {
  const box = $("timeline");
  box.replaceChildren();
  const total = Math.max(state.sessionS, 1);
  let seg = null, color = -1;
  for (const c of state.clips) {
    if (!seg || seg.label !== c.label) {
      color = (color + 1) % COLORS.length;
      seg = { label: c.label, from: c.streamStart, to: c.streamStart + c.duration, color: COLORS[color] };
      const div = document.createElement("div");
      div.className = "seg";
      div.title = c.label;
      div.textContent = c.label;
      div.style.background = seg.color;
      seg.el = div;
      box.append(div);
    }
    seg.to = c.streamStart + c.duration;
    seg.el.style.left = `${(seg.from / total) * 100}%`;
    seg.el.style.width = `${((seg.to - seg.from) / total) * 100}%`;
  }
  const head = document.createElement("div");
  head.className = "playhead";
  head.id = "timeline-head";
  box.append(head);
}

function tick() {
  const ctx = audioContext();
  const now = ctx.currentTime;
  const clip = currentClip(now);
  if (clip && clip.ws === state.ws && clip.seq > state.reported) {
    state.reported = clip.seq;
    send({ type: "played", seq: clip.seq });
  }
  if (state.playing && clip) $("now-playing").textContent = `Now: ${clip.label}`;
  const ahead = state.nextTime === null ? 0 : Math.max(0, state.nextTime - now);
  const buffered = state.clips.filter((c) => c.start > now).length;
  $("buffer-bar").style.width = `${Math.min(100, (ahead / 16) * 100)}%`;
  $("buffer-text").textContent = `${buffered} clip${buffered === 1 ? "" : "s"} buffered (${ahead.toFixed(1)} s ahead)` +
    (state.underruns ? ` · ${state.underruns} gap${state.underruns === 1 ? "" : "s"}` : "");
  const behind = state.playing && !state.waitingFirst &&
    (ahead < 1.5 || performance.now() < state.behindUntil);
  $("behind").hidden = !behind;
  drawScroll(now);
  const head = $("timeline-head");
  if (head && state.clips.length) {
    const first = state.clips[0];
    const pos = clip ? clip.streamStart + (now - clip.start) : (now < first.start ? 0 : state.sessionS);
    head.style.left = `${(pos / Math.max(state.sessionS, 1)) * 100}%`;
  }
  requestAnimationFrame(tick);
}

function downloadWav() {
  const kept = state.clips.filter((c) => c.buffer);
  if (!kept.length) return;
  const sr = kept[0].buffer.sampleRate;
  const nch = kept[0].buffer.numberOfChannels;
  const total = kept.reduce((n, c) => n + c.buffer.length, 0);
  const channels = Array.from({ length: nch }, () => new Float32Array(total));
  let offset = 0;
  for (const c of kept) {
    for (let ch = 0; ch < nch; ch++) channels[ch].set(c.buffer.getChannelData(Math.min(ch, c.buffer.numberOfChannels - 1)), offset);
    offset += c.buffer.length;
  }
  download(encodeWav(channels, sr), "riffgen-session.wav");
}

function downloadPng() {
  if (!state.clips.length) return;
  const height = state.clips[0].image.naturalHeight;
  const widths = state.clips.map((c) => Math.max(1, Math.round(c.image.naturalWidth * Math.min(1, c.duration / c.imageDuration))));
  const canvas = document.createElement("canvas");
  canvas.width = Math.min(32000, widths.reduce((a, b) => a + b, 0)); // canvas size limit
  canvas.height = height;
  const g = canvas.getContext("2d");
  let x = 0;
  state.clips.forEach((c, i) => {
    g.drawImage(c.image, 0, 0, widths[i], c.image.naturalHeight, x, 0, widths[i], height);
    x += widths[i];
  });
  canvas.toBlob((blob) => download(blob, "riffgen-session.png"), "image/png");
}

function shareLink() {
  const url = new URL(location.href);
  url.search = "";
  url.hash = "";
  const prompts = [state.current || $("prompt").value.trim(), ...state.queue].filter(Boolean);
  for (const p of prompts) url.searchParams.append("prompt", p);
  const s = settings();
  url.searchParams.set("seed", s.seed);
  url.searchParams.set("seed_image", s.seed_image);
  url.searchParams.set("denoising", s.denoising);
  url.searchParams.set("steps", s.num_inference_steps);
  if (s.decoder) url.searchParams.set("decoder", s.decoder);
  const field = $("share-url");
  field.hidden = false;
  field.value = url.toString();
  field.select();
  if (navigator.clipboard) navigator.clipboard.writeText(field.value).catch(() => {});
  return field.value;
}

function restoreFromUrl() {
  const q = new URLSearchParams(location.search);
  const prompts = q.getAll("prompt").map((p) => p.trim()).filter(Boolean).slice(0, 64);
  if (prompts.length) {
    $("prompt").value = prompts[0];
    state.queue = prompts.slice(1);
  }
  const num = (k, lo, hi) => {
    const v = Number(q.get(k));
    return q.has(k) && Number.isFinite(v) ? Math.min(hi, Math.max(lo, v)) : null;
  };
  const seed = num("seed", 0, 4294967295);
  if (seed !== null) $("seed").value = Math.floor(seed);
  const den = num("denoising", 0, 1);
  if (den !== null) { $("denoising").value = den; $("denoising-out").textContent = den.toFixed(2); }
  const steps = num("steps", 1, 100);
  if (steps !== null) {
    $("steps").value = Math.floor(steps);
    markStepsChosen($("steps")); // the link's steps, not the model's default
  }
  if (q.has("decoder")) setDecoder(q.get("decoder")); // a share link's choice is kept, like the API key
  $("decoder").value = decoder();
  return q.get("seed_image");
}

function settingsChanged() {
  $("denoising-out").textContent = Number($("denoising").value).toFixed(2);
  if (!state.ws) return;
  clearTimeout(state.settingsTimer);
  state.settingsTimer = setTimeout(() => {
    const s = settings();
    send({ type: "settings", seed_image: s.seed_image, denoising: s.denoising,
           num_inference_steps: s.num_inference_steps, decoder: s.decoder });
  }, 400);
}

async function loadSeedImages(wanted) {
  const select = $("seed-image");
  try {
    state.seedImages = (await getJSON("/api/v1/seed_images")).filter((s) => !s.is_mask);
  } catch (err) {
    state.seedImages = [];
    $("now-playing").textContent = `Cannot list seed images: ${err.message}`;
  }
  select.replaceChildren();
  for (const s of state.seedImages) {
    const opt = document.createElement("option");
    opt.value = s.name;
    opt.textContent = s.bpm ? `${s.name} (${Math.round(s.bpm)} BPM)` : s.name;
    select.append(opt);
  }
  const names = state.seedImages.map((s) => s.name);
  if (wanted && names.includes(wanted)) select.value = wanted;
  else if (names.includes("beat_100")) select.value = "beat_100";
}

export function initPlayer() {
  const wanted = restoreFromUrl();
  renderQueue();
  loadSeedImages(wanted);
  $("prompt-form").addEventListener("submit", (e) => { e.preventDefault(); addPrompt("queue"); });
  $("prompt-now").addEventListener("click", () => addPrompt("now"));
  $("prompt-random").addEventListener("click", () => {
    const input = $("prompt");
    input.value = RANDOM_PROMPTS[Math.floor(Math.random() * RANDOM_PROMPTS.length)];
    input.focus();
  });
  $("play").addEventListener("click", togglePlay);
  $("decoder").addEventListener("input", () => setDecoder($("decoder").value));
  for (const id of ["seed-image", "denoising", "steps", "decoder"]) $(id).addEventListener("input", settingsChanged);
  $("share").addEventListener("click", shareLink);
  $("download-wav").addEventListener("click", downloadWav);
  $("download-png").addEventListener("click", downloadPng);
  requestAnimationFrame(tick);
  window.riffgenPlayer = state; // for tests and the curious
}
