// 店铺设置: add and remove promotion rows, show the welcome as buyers will read it, and mark
// the follow-up rules a 0 turns off. The form itself posts as a plain form; the server checks it.

import { getJSON } from "./http.js";

const PREVIEW_DELAY_MS = 250;

function setUpPromotions() {
  const list = document.getElementById("promotion-list");
  const template = document.getElementById("promotion-template");
  const add = document.getElementById("promotion-add");
  if (!list || !template || !add) return;
  add.addEventListener("click", () => {
    const row = template.content.firstElementChild.cloneNode(true);
    list.append(row);
    row.querySelector("input")?.focus();
  });
  list.addEventListener("click", (event) => {
    const remove = event.target.closest(".promotion-remove");
    if (!remove) return;
    const row = remove.closest(".promotion-row");
    // Focus moves to a neighbour (or the add button) so a keyboard user is not left nowhere.
    const next = row.nextElementSibling || row.previousElementSibling;
    row.remove();
    (next?.querySelector("input") || add).focus();
  });
}

function setUpPreview() {
  const input = document.getElementById("f-welcome");
  const preview = document.getElementById("welcome-preview");
  if (!input || !preview) return;
  let timer = 0;
  let asked = 0;
  const refresh = () => {
    clearTimeout(timer);
    timer = setTimeout(async () => {
      const mine = ++asked;
      try {
        const answer = await getJSON(`/settings/shop/welcome-preview?text=${encodeURIComponent(input.value)}`);
        // Answers can arrive out of order: only the latest question's answer is shown.
        if (mine === asked) preview.textContent = answer.text;
      } catch {
        // The preview is a help; the saved text is checked on the server either way.
      }
    }, PREVIEW_DELAY_MS);
  };
  input.addEventListener("input", refresh);
  // Typed before this script ran (it loads after the form shows): the preview was made for the
  // saved text, so it is asked for again.
  if (input.value !== input.defaultValue) refresh();
}

function setUpOffBadges() {
  for (const badge of document.querySelectorAll("[data-off-for]")) {
    const input = document.getElementById(badge.dataset.offFor);
    if (!input) continue;
    const show = () => {
      badge.hidden = input.value.trim() !== "0";
    };
    input.addEventListener("input", show);
    show(); // for what was typed before this script ran
  }
}

setUpPromotions();
setUpPreview();
setUpOffBadges();
