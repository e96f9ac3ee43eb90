// Headless Chromium for the page tests (the Debian package the harness installs), offline: no
// background traffic, no QUIC, no component updates, so a page that reaches the network fails.
import { type Browser, chromium } from "playwright-core";
import { findChromium } from "./servers";

const offlineFlags = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"];

export function launchChromium(): Promise<Browser> {
  return chromium.launch({ executablePath: findChromium(), args: offlineFlags });
}
