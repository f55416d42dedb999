// The dashboard's shell: sign-in, what the role may see, the pages.
import { ApiError, Unauthenticated, event, noSuchEvent, projectionList, setWaitListener } from "./api/client";
import { type App, type Capabilities, type View, mark } from "./app";
import { h, replace } from "./dom";
import { session } from "./session";
import { projectionsView } from "./views/projections";
import { reportsView } from "./views/reports";
import { signInView } from "./views/signin";

const main = document.getElementById("main")!;
const nav = document.getElementById("nav")!;
const who = document.getElementById("who")!;
const status = document.getElementById("status")!;

let current: View | null = null;
let caps: Capabilities | null = null;

setWaitListener((message) => {
  status.textContent = message ?? "";
});

function show(view: View): void {
  current?.dispose();
  current = view;
  replace(main, view.el);
}

/** signOut forgets the token and shows the form, with why. */
function signOut(reason?: string): void {
  session.signOut();
  caps = null;
  nav.hidden = true;
  replace(nav);
  replace(who);
  document.title = "Sign in — Casebook figures";
  show(signInView(reason, signIn));
}

const app: App = {
  get caps() {
    return caps ?? { events: false, projections: false };
  },
  fail(err: unknown) {
    if (err instanceof Unauthenticated) {
      signOut(`Signed out: ${err.message}`);
      return;
    }
    console.error(err);
  },
};

/**
 * discover asks the API what the token may do: the projections (admins)
 * and an event behind a figure (auditors: asking for an id no event has
 * answers 404 to them and 403 to everyone else, and reads nothing). Both
 * answer 401 to a token that is not valid.
 */
async function discover(): Promise<Capabilities> {
  const allowed = async (probe: () => Promise<unknown>): Promise<boolean> => {
    try {
      await probe();
      return true;
    } catch (err) {
      if (err instanceof Unauthenticated) throw err;
      if (err instanceof ApiError && err.status === 403) return false;
      if (err instanceof ApiError && err.status === 404) return true;
      if (err instanceof ApiError && err.status === 503) return true; // allowed, but the store cannot look events up
      throw err;
    }
  };
  const [events, projections] = await Promise.all([allowed(() => event(noSuchEvent)), allowed(projectionList)]);
  return { events, projections };
}

async function signIn(token: string): Promise<void> {
  mark("signin");
  session.signIn(token);
  try {
    caps = await discover();
  } catch (err) {
    if (err instanceof Unauthenticated) {
      signOut(`Sign-in failed: ${err.message}`);
    } else {
      signOut(`Sign-in failed: ${err instanceof Error ? err.message : String(err)}`);
    }
    return;
  }
  renderChrome();
  if (!location.hash.startsWith("#/")) location.hash = "#/reports";
  route();
}

function renderChrome(): void {
  const c = app.caps;
  const links: [string, string][] = [["#/reports", "Reports"]];
  if (c.projections) links.push(["#/projections", "Projections"]);
  replace(nav, links.map(([href, text]) => h("a", { href }, text)));
  nav.hidden = false;
  const access = ["reports", c.events ? "events behind figures" : "", c.projections ? "read models" : ""].filter(Boolean).join(", ");
  replace(
    who,
    h("span", {}, "Signed in · ", access),
    h("button", { type: "button", class: "secondary", onclick: () => signOut("You signed out.") }, "Sign out"),
  );
}

function route(): void {
  if (!caps) return;
  const hash = location.hash || "#/reports";
  const page = hash.startsWith("#/projections") && caps.projections ? "projections" : "reports";
  for (const a of Array.from(nav.querySelectorAll("a"))) {
    if (a.getAttribute("href") === "#/" + page) a.setAttribute("aria-current", "page");
    else a.removeAttribute("aria-current");
  }
  if (page === "projections") {
    document.title = "Projections — Casebook figures";
    show(projectionsView(app));
  } else {
    document.title = "Reports — Casebook figures";
    show(reportsView(app, hash));
  }
}

window.addEventListener("hashchange", () => {
  // The reports view keeps its own state in the hash: re-render only when
  // the page changes.
  const page = location.hash.startsWith("#/projections") ? "projections" : "reports";
  if (current && current.el.dataset.page === page) return;
  route();
});

if (session.token()) {
  void signIn(session.token()!);
} else {
  signOut();
}
