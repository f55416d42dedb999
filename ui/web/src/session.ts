// The access token lives in sessionStorage only: never in the URL, a cookie
// or localStorage. It goes when the tab closes or the user signs out.

const key = "casebook.token";

export const session = {
  token(): string | null {
    try {
      return sessionStorage.getItem(key);
    } catch {
      return null; // storage disabled: nobody is signed in
    }
  },
  signIn(token: string): void {
    sessionStorage.setItem(key, token);
  },
  signOut(): void {
    sessionStorage.removeItem(key);
  },
};
