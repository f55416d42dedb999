import type { View } from "../app";
import { h } from "../dom";

/**
 * signInView is the form: a field labelled "Access token" and a button
 * "Sign in". The form never submits to the server (the page's CSP has
 * form-action 'none' besides), so the token cannot end up in a URL.
 */
export function signInView(reason: string | undefined, signIn: (token: string) => Promise<void>): View {
  const input = h("input", {
    id: "token",
    name: "token",
    type: "password",
    autocomplete: "off",
    spellcheck: "false",
    autocapitalize: "off",
    required: true,
    "aria-describedby": "token-help" + (reason ? " signin-error" : ""),
  });
  const error = h("p", { id: "signin-error", class: "error", role: "alert" }, reason ?? "");
  const button = h("button", { type: "submit" }, "Sign in");
  const form = h(
    "form",
    {
      novalidate: true,
      onsubmit: (ev: Event) => {
        ev.preventDefault();
        const token = input.value.trim();
        if (!token) {
          error.textContent = "Paste your access token first.";
          input.focus();
          return;
        }
        button.disabled = true;
        error.textContent = "";
        void signIn(token);
      },
    },
    h("div", {}, h("label", { for: "token" }, "Access token"), input),
    h("p", { id: "token-help", class: "note" }, "A Casebook token (cbk_…) or an OIDC access token. It is kept in this tab only, and forgotten when you sign out or close the tab."),
    error,
    h("div", {}, button),
  );
  const el = h(
    "section",
    { class: "card signin", "aria-labelledby": "signin-h", "data-page": "signin" },
    h("h1", { id: "signin-h" }, "Sign in"),
    h("p", {}, "The figures of Casebook's reports: arrests, gangs dismantled, detections and seizures, with the events behind each figure."),
    form,
  );
  queueMicrotask(() => input.focus());
  return { el, dispose() {} };
}
