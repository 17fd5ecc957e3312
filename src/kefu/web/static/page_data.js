// What the server gives a page's script: a JSON block (not executed, so the content policy
// allows it) with ids, settings and the words the script shows.

export function pageData(id) {
  const block = document.getElementById(id);
  return block ? JSON.parse(block.textContent) : {};
}

/** t("desk.js.waited", {time: "0:31"}): the word for `key` with its {names} filled. */
export function translator(words) {
  return (key, values = {}) =>
    (words[key] ?? key).replace(/\{(\w+)\}/g, (hole, name) => (name in values ? String(values[name]) : hole));
}
