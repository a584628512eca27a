/**
 * A connection URL fit to print: the password (or a lone user-info part, which some servers
 * take as the password) replaced by `***`, the user name kept.
 * `redis://user:pw@host:6379` → `redis://user:***@host:6379`, `redis://:pw@host` → `redis://:***@host`,
 * `redis://pw@host` → `redis://***@host`; a URL without `@` is returned as it is.
 * Everything before the last `@` is user info here: when in doubt, more is hidden, never less.
 */
export function maskUrlCredentials(url: string): string {
  const scheme = /^[A-Za-z][A-Za-z0-9+.-]*:\/\//.exec(url);
  const start = scheme ? scheme[0].length : 0;
  const at = url.lastIndexOf("@");
  if (at < start) return url;
  const userinfo = url.slice(start, at);
  const colon = userinfo.indexOf(":");
  const masked = colon >= 0 ? `${userinfo.slice(0, colon)}:***` : "***";
  return `${url.slice(0, start)}${masked}${url.slice(at)}`;
}
