/**
 * Ubuntu 23.10 and later set kernel.apparmor_restrict_unprivileged_userns=1:
 * only programs with an AppArmor profile that grants `userns` may create
 * user namespaces. This profile grants it to nook's own executable (the
 * program that calls clone), and changes nothing else about it.
 *
 * @param nookPath the real path of the executable that clones: the compiled
 *   nook, or the Deno binary when nook runs from source.
 */
export function apparmorProfile(nookPath: string): string {
  const path = /[\s"]/.test(nookPath) ? `"${nookPath.replaceAll('"', '\\"')}"` : nookPath;
  return [
    "# /etc/apparmor.d/nook: lets nook create user namespaces for rootless containers",
    "abi <abi/4.0>,",
    "include <tunables/global>",
    "",
    `profile nook ${path} flags=(unconfined) {`,
    "  userns,",
    "",
    "  # site-specific additions and overrides, see local/README",
    "  include if exists <local/nook>",
    "}",
    "",
  ].join("\n");
}

/** The commands that install and load the profile. */
export function apparmorFix(): string {
  return [
    "nook doctor --apparmor-profile | sudo tee /etc/apparmor.d/nook",
    "sudo apparmor_parser -r /etc/apparmor.d/nook",
  ].join("\n");
}
