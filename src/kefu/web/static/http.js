// The workbench's JSON actions: the login cookie rides along, the CSRF token goes as a header.

export class ActionError extends Error {
  constructor(status, detail) {
    super(detail || String(status));
    this.status = status;
  }
}

function csrfToken() {
  // base.html puts the token in <body hx-headers> for htmx; the scripts read it from there.
  try {
    return JSON.parse(document.body.getAttribute("hx-headers") || "{}")["X-CSRF-Token"] || "";
  } catch {
    return "";
  }
}

async function request(method, url, body) {
  let response;
  try {
    response = await fetch(url, {
      method,
      credentials: "same-origin",
      headers: {
        Accept: "application/json",
        ...(body === undefined ? {} : { "Content-Type": "application/json" }),
        ...(method === "GET" ? {} : { "X-CSRF-Token": csrfToken() }),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch {
    throw new ActionError(0, "network");
  }
  const answer = await response.json().catch(() => ({}));
  if (!response.ok) {
    const detail = typeof answer.detail === "string" ? answer.detail : JSON.stringify(answer.detail || "");
    throw new ActionError(response.status, detail);
  }
  return answer;
}

export const getJSON = (url) => request("GET", url);
export const postJSON = (url, body = {}) => request("POST", url, body);
