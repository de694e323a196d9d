// pinsite's page behaviour: masonry layout, infinite feed, live thumbnails, uploads, reordering.
// Plain JavaScript, no build step. Every page works without it, except uploading.
"use strict";

const csrfToken = () => document.querySelector('meta[name="csrf-token"]')?.content || "";
const ROW_PX = 8;
const GAP_PX = 16;

// --- Masonry: each card spans as many 8 px rows as its content is tall --------------------------
function layoutGrid(grid) {
  for (const card of grid.children) {
    const content = card.firstElementChild;
    if (!content) continue;
    const height = content.getBoundingClientRect().height;
    if (height > 0) card.style.gridRowEnd = `span ${Math.ceil((height + GAP_PX) / ROW_PX)}`;
  }
}
function layoutAll() {
  document.querySelectorAll("[data-grid]").forEach(layoutGrid);
}
let resizeTimer = null;
window.addEventListener("resize", () => {
  clearTimeout(resizeTimer);
  resizeTimer = setTimeout(layoutAll, 100);
});

// --- Live thumbnails: poll for pins still being processed and fill them in ----------------------
const pollState = { timer: null, delay: 1000, started: 0 };

function pendingIds() {
  const ids = new Set();
  document.querySelectorAll("[data-pin][data-pending]").forEach((el) => ids.add(el.dataset.pin));
  return [...ids];
}

function fillCard(el, info) {
  const sizes = "(max-width: 520px) 50vw, 236px";
  const alt = el.querySelector("img")?.alt || el.dataset.alt || "";
  if (el.classList.contains("pin-detail")) {
    const box = el.querySelector(".pin-image");
    const img = document.createElement("img");
    img.src = info.large || info.src;
    img.alt = box.dataset.alt || alt;
    box.replaceChildren(img);
  } else {
    const box = el.querySelector(".card-media");
    if (!box) return;
    const img = document.createElement("img");
    img.src = info.src;
    if (info.srcset) {
      img.srcset = info.srcset;
      img.sizes = sizes;
    }
    img.alt = el.dataset.alt || el.querySelector(".card-title")?.textContent || "";
    img.decoding = "async";
    box.style.backgroundColor = info.color;
    box.replaceChildren(img);
  }
  delete el.dataset.pending;
}

async function pollOnce() {
  const ids = pendingIds();
  if (!ids.length) return;
  try {
    const response = await fetch(`/pin/status/?ids=${ids.join(",")}`, { credentials: "same-origin" });
    if (response.ok) {
      const { pins } = await response.json();
      for (const [id, info] of Object.entries(pins)) {
        if (info.status !== "ready" && info.status !== "failed") continue;
        document.querySelectorAll(`[data-pin="${id}"][data-pending]`).forEach((el) => {
          if (info.status === "ready" && info.src) fillCard(el, info);
          else {
            const state = el.querySelector(".card-state");
            if (state) state.textContent = info.reason ? `Could not process: ${info.reason}` : "Could not process this image";
            delete el.dataset.pending;
          }
        });
      }
      pollState.delay = 1000;
    } else {
      pollState.delay = Math.min(pollState.delay * 2, 15000);
    }
  } catch {
    pollState.delay = Math.min(pollState.delay * 2, 15000);
  }
  layoutAll();
  schedulePoll();
}

function schedulePoll() {
  clearTimeout(pollState.timer);
  if (!pendingIds().length) return;
  if (!pollState.started) pollState.started = Date.now();
  if (Date.now() - pollState.started > 10 * 60 * 1000) return; // stop after ten minutes
  pollState.timer = setTimeout(pollOnce, pollState.delay);
}

// --- Infinite feed with cursor pagination; coming back restores the pins and the place ----------
function setupFeed(feed) {
  const more = document.querySelector("[data-more]");
  const status = document.querySelector("[data-feed-status]");
  const storeKey = `pinsite:feed:${location.pathname}${location.search}`;
  let grid = feed.querySelector("[data-grid]");
  let cursor = feed.dataset.nextCursor;
  let loading = false;

  const save = (extraHtml) => {
    try {
      const previous = JSON.parse(sessionStorage.getItem(storeKey) || "{}");
      sessionStorage.setItem(
        storeKey,
        JSON.stringify({ html: (previous.html || "") + (extraHtml || ""), cursor, scroll: window.scrollY }),
      );
    } catch {
      /* storage full or disabled: the feed still works, it just starts at the top */
    }
  };

  // The page's own address with another cursor (search pages keep their words).
  const pageUrl = (next) => {
    const url = new URL(feed.dataset.feedUrl || location.pathname, location.href);
    url.searchParams.set("cursor", next);
    return url;
  };
  const moreHref = (next) => {
    const url = pageUrl(next);
    return url.pathname + url.search;
  };

  const append = (html) => {
    const holder = document.createElement("template");
    holder.innerHTML = html;
    const cards = [...holder.content.children];
    if (grid.dataset.reorderUrl) cards.forEach((card) => (card.draggable = true));
    grid.append(...cards);
    layoutGrid(grid);
  };

  async function loadMore() {
    if (loading || !cursor) return;
    loading = true;
    try {
      const url = pageUrl(cursor);
      url.searchParams.set("partial", "1");
      const response = await fetch(url, { credentials: "same-origin" });
      if (!response.ok) throw new Error(String(response.status));
      const holder = document.createElement("template");
      holder.innerHTML = await response.text();
      const page = holder.content.querySelector("template");
      const html = page.innerHTML;
      cursor = page.dataset.nextCursor;
      append(html);
      save(html);
      if (status) status.textContent = `${page.content.children.length} more pins loaded.`;
      if (more) {
        if (cursor) more.href = moreHref(cursor);
        else more.parentElement.remove();
      }
      schedulePoll();
    } catch {
      if (status) status.textContent = "Could not load more pins. Try again.";
    } finally {
      loading = false;
    }
  }

  if ("scrollRestoration" in history) history.scrollRestoration = "manual"; // restored below
  const navigation = performance.getEntriesByType("navigation")[0];
  if (navigation && navigation.type === "back_forward") {
    try {
      const saved = JSON.parse(sessionStorage.getItem(storeKey) || "null");
      if (saved && saved.html && grid) {
        append(saved.html);
        cursor = saved.cursor;
        if (!cursor && more) more.parentElement.remove();
        else if (more) more.href = moreHref(cursor);
      }
      if (saved) requestAnimationFrame(() => window.scrollTo(0, saved.scroll || 0));
    } catch {
      /* nothing saved */
    }
  } else {
    sessionStorage.removeItem(storeKey);
  }
  window.addEventListener("pagehide", () => save(""));

  if (!more || !grid) return;
  more.addEventListener("click", (event) => {
    event.preventDefault();
    loadMore();
  });
  if ("IntersectionObserver" in window) {
    new IntersectionObserver((entries) => {
      if (entries.some((entry) => entry.isIntersecting)) loadMore();
    }, { rootMargin: "800px" }).observe(more);
  }
}

// --- Uploading: each file goes up with its own progress bar, then gets its details --------------
function setupUpload(root) {
  const list = root.querySelector("[data-upload-list]");
  const template = root.querySelector("[data-upload-item]");
  const input = root.querySelector("[data-files]");
  const dropzone = root.querySelector("[data-dropzone]");
  const boardSelect = root.querySelector("[data-board]");
  const publishAllWrap = root.querySelector("[data-publish-all-wrap]");
  const maxBytes = Number(root.dataset.maxBytes);

  function uploadFile(file) {
    const item = template.content.firstElementChild.cloneNode(true);
    const bar = item.querySelector("progress");
    const state = item.querySelector(".upload-state");
    const form = item.querySelector("form");
    item.querySelector(".upload-name").textContent = file.name;
    bar.setAttribute("aria-label", `Uploading ${file.name}`);
    list.append(item);
    if (file.size > maxBytes) {
      state.textContent = `Too large: the limit is ${Math.round(maxBytes / 1048576)} MB.`;
      item.classList.add("failed");
      bar.remove();
      return;
    }
    const fail = (message) => {
      state.textContent = message;
      item.classList.add("failed");
    };
    // The image's average colour, from the file itself, for the placeholder shown until the
    // worker's thumbnails (and the dominant colour it computes) arrive.
    if ("createImageBitmap" in window) {
      createImageBitmap(file, { resizeWidth: 1, resizeHeight: 1, resizeQuality: "low" })
        .then((bitmap) => {
          const canvas = document.createElement("canvas");
          canvas.width = canvas.height = 1;
          const context = canvas.getContext("2d");
          context.drawImage(bitmap, 0, 0);
          const [r, g, b] = context.getImageData(0, 0, 1, 1).data;
          item.dataset.color = `rgb(${r}, ${g}, ${b})`;
        })
        .catch(() => {}); // not decodable here: the grey placeholder stays
    }
    const uploaded = (reply) => {
      bar.value = 100;
      state.textContent = "Uploaded. Describe it, then publish.";
      if (reply.duplicate_of) {
        const link = document.createElement("a");
        link.href = reply.duplicate_of;
        link.textContent = "You already pinned this image: see it";
        state.append(" ", link);
      }
      item.dataset.asset = reply.asset;
      item.dataset.ratio = `${reply.width} / ${reply.height}`;
      form.elements.asset.value = reply.asset;
      form.hidden = false;
      form.elements.title.focus({ preventScroll: true });
      publishAllWrap.hidden = false;
    };
    const parse = (text) => {
      try {
        return JSON.parse(text);
      } catch {
        return { error: "The server could not take this file. Try again." };
      }
    };
    // Sends ``body`` with a progress bar; resolves with the XHR once the server answered.
    const send = (url, body, headers) =>
      new Promise((resolve, reject) => {
        const request = new XMLHttpRequest();
        request.open("POST", url);
        for (const [name, value] of Object.entries(headers)) request.setRequestHeader(name, value);
        request.upload.addEventListener("progress", (event) => {
          if (event.lengthComputable) {
            bar.value = Math.round((event.loaded / event.total) * 100);
            state.textContent = `Uploading… ${bar.value}%`;
          }
        });
        request.addEventListener("load", () => resolve(request));
        request.addEventListener("error", () => reject(new Error("network")));
        request.send(body);
      });
    const post = async (url, fields) => {
      const body = new FormData();
      for (const [name, value] of Object.entries(fields)) body.append(name, value);
      const response = await fetch(url, {
        method: "POST",
        body,
        headers: { "X-CSRFToken": csrfToken() },
        credentials: "same-origin",
      });
      return [response.status, await response.json().catch(() => ({}))];
    };

    (async () => {
      try {
        if (root.dataset.startUrl) {
          // Direct to S3: the app chooses the key and the conditions, the bytes go to S3 only.
          const kind = file.type.split("/")[0];
          if (kind !== "image" && kind !== "video") return fail("This is not an image or a video.");
          const [status, ticket] = await post(root.dataset.startUrl, { kind });
          if (status !== 201) return fail(ticket.error || "Uploading is not possible right now.");
          const body = new FormData();
          for (const [name, value] of Object.entries(ticket.fields)) body.append(name, value);
          body.set("Content-Type", file.type);
          body.append("file", file);
          const sent = await send(ticket.url, body, {});
          if (sent.status >= 300) return fail("Storage refused this file (too large, or not an image or video).");
          state.textContent = "Checking…";
          const [confirmed, reply] = await post(root.dataset.confirmUrl, { upload: ticket.upload });
          if (confirmed !== 201) return fail(reply.error || "Upload failed.");
          uploaded(reply);
        } else {
          const body = new FormData();
          body.append("file", file);
          const sent = await send(root.dataset.uploadUrl, body, { "X-CSRFToken": csrfToken() });
          const reply = parse(sent.responseText);
          if (sent.status !== 201) return fail(reply.error || "Upload failed.");
          uploaded(reply);
        }
      } catch {
        fail("The connection dropped. Try this file again.");
      }
    })();

    form.addEventListener("submit", (event) => {
      event.preventDefault();
      publish(item, form);
    });
  }

  async function publish(item, form) {
    const errors = form.querySelector(".errors");
    const body = new FormData(form);
    body.append("board", boardSelect.value);
    errors.textContent = "";
    const response = await fetch(root.dataset.publishUrl, {
      method: "POST",
      body,
      headers: { "X-CSRFToken": csrfToken(), Accept: "application/json" },
      credentials: "same-origin",
    });
    const reply = await response.json().catch(() => ({ errors: { __all__: ["Publishing failed."] } }));
    if (!response.ok) {
      errors.textContent = Object.values(reply.errors || {}).flat().join(" ");
      return false;
    }
    const title = form.elements.title.value;
    const card = document.createElement("a");
    card.href = reply.url;
    card.className = "upload-published";
    card.dataset.pin = reply.pin;
    card.dataset.pending = "1";
    card.dataset.alt = form.elements.alt_text.value || title;
    card.innerHTML = '<span class="card-media"><span class="card-state">Preparing…</span></span>';
    if (item.dataset.ratio) card.firstElementChild.style.aspectRatio = item.dataset.ratio;
    if (item.dataset.color) card.firstElementChild.style.backgroundColor = item.dataset.color;
    const label = document.createElement("span");
    label.className = "card-title";
    label.textContent = title || "Untitled pin";
    card.append(label);
    form.replaceWith(card);
    item.querySelector(".upload-state").textContent = "Published.";
    item.classList.add("published");
    // Nothing left to publish: hide "Publish all" (it comes back with the next upload).
    if (!list.querySelector("form:not([hidden])")) publishAllWrap.hidden = true;
    schedulePoll();
    return true;
  }

  root.querySelector("[data-publish-all]").addEventListener("click", async () => {
    for (const form of list.querySelectorAll("form:not([hidden])")) {
      await publish(form.closest(".upload-item"), form);
    }
  });
  input.addEventListener("change", () => {
    [...input.files].forEach(uploadFile);
    input.value = "";
  });
  for (const type of ["dragenter", "dragover"]) {
    dropzone.addEventListener(type, (event) => {
      event.preventDefault();
      dropzone.classList.add("over");
    });
  }
  dropzone.addEventListener("dragleave", () => dropzone.classList.remove("over"));
  dropzone.addEventListener("drop", (event) => {
    event.preventDefault();
    dropzone.classList.remove("over");
    [...event.dataTransfer.files].forEach(uploadFile);
  });
}

// --- Reordering a board: drag and drop, or Alt+Arrow keys on a focused pin ----------------------
function setupReorder(grid) {
  const url = grid.dataset.reorderUrl;
  const live = document.createElement("p");
  live.className = "visually-hidden";
  live.setAttribute("aria-live", "assertive");
  grid.after(live);
  let dragged = null;

  async function send(card) {
    const before = card.nextElementSibling?.dataset.pin || "";
    const response = await fetch(url, {
      method: "POST",
      headers: { "Content-Type": "application/json", "X-CSRFToken": csrfToken() },
      body: JSON.stringify({ pin: card.dataset.pin, before }),
      credentials: "same-origin",
    });
    const position = [...grid.children].indexOf(card) + 1;
    live.textContent = response.ok
      ? `Moved to position ${position} of ${grid.children.length}.`
      : "Could not save the new order. Reload the page.";
    layoutGrid(grid);
  }

  // Delegated to the grid, so cards the infinite scroll adds later move too.
  for (const card of grid.children) card.draggable = true;
  const cardOf = (event) => event.target.closest?.("[data-pin]");
  grid.addEventListener("dragstart", (event) => {
    const card = cardOf(event);
    if (!card) return;
    dragged = card;
    card.classList.add("dragging");
    event.dataTransfer.effectAllowed = "move";
    event.dataTransfer.setData("text/plain", card.dataset.pin);
  });
  grid.addEventListener("dragend", (event) => {
    cardOf(event)?.classList.remove("dragging");
    if (dragged) send(dragged);
    dragged = null;
  });
  grid.addEventListener("dragover", (event) => {
    const card = cardOf(event);
    if (!card || !dragged || dragged === card) return;
    event.preventDefault();
    const box = card.getBoundingClientRect();
    const after = event.clientY > box.top + box.height / 2;
    card[after ? "after" : "before"](dragged);
  });
  grid.addEventListener("drop", (event) => event.preventDefault());
  grid.addEventListener("keydown", (event) => {
    const card = cardOf(event);
    if (!card || !event.altKey) return;
    const back = event.key === "ArrowLeft" || event.key === "ArrowUp";
    const forward = event.key === "ArrowRight" || event.key === "ArrowDown";
    if (!back && !forward) return;
    event.preventDefault();
    const sibling = back ? card.previousElementSibling : card.nextElementSibling;
    if (!sibling) return;
    sibling[back ? "before" : "after"](card);
    card.querySelector("a")?.focus();
    send(card);
  });
}

document.addEventListener("DOMContentLoaded", () => {
  document.documentElement.classList.add("js");
  layoutAll();
  document.querySelectorAll("[data-feed]").forEach(setupFeed);
  document.querySelectorAll("[data-upload]").forEach(setupUpload);
  document.querySelectorAll("[data-reorder-url]").forEach(setupReorder);
  schedulePoll();
});
window.addEventListener("load", layoutAll);
