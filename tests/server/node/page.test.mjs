// The page of `torchsystem serve` in a real browser: Debian's Chromium, headless, driven by playwright-core.
// It trains a small MLP of the seed's (the synthetic task, two epochs), serves its store, and checks what a
// person sees and does: the types and their search, the hash as a configuration is typed, the errors of a
// bad one, the checkpoints table and the training curves of the checkpoint clicked. The screenshot stays in
// WORKDIR/page.png.
//   TORCHSYSTEM=build/bin/torchsystem WORKDIR=... CHROMIUM=/usr/bin/chromium node --test page.test.mjs
import assert from "node:assert/strict";
import { execFileSync, spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, test } from "node:test";

import { chromium } from "playwright-core";

const torchsystem = process.env.TORCHSYSTEM;
const workdir = process.env.WORKDIR;
const argumentsText = '{"input_size": 784, "hidden_size": 32, "output_size": 10, "dropout": 0.5, "activation": "ReLU"}';
const digest = createHash("md5").update("MLP" + argumentsText).digest("hex");

let server;
let url;
let browser;

/// Starts `torchsystem serve` and resolves with its URL once it prints "listening on ...".
function serve(store) {
  server = spawn(torchsystem, ["serve", "--store", store, "--port", "0", "--plugin", "seed"], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  return new Promise((resolve, reject) => {
    let printed = "";
    server.stdout.on("data", (chunk) => {
      printed += chunk;
      const found = printed.match(/listening on (http:\/\/127\.0\.0\.1:\d+)\n/);
      if (found) resolve(found[1]);
    });
    server.on("exit", (code) => reject(new Error(`torchsystem serve exited with ${code}: ${printed}`)));
    // unref: a pending timer would keep Node running after the tests.
    setTimeout(() => reject(new Error("torchsystem serve did not start in 20 s")), 20000).unref();
  });
}

before(async () => {
  rmSync(workdir, { recursive: true, force: true });
  mkdirSync(workdir, { recursive: true });
  const config = {
    model: { name: "MLP", arguments: JSON.parse(argumentsText) }, criterion: { name: "CrossEntropyLoss" },
    optimizer: { name: "Adam", arguments: { lr: 0.001 } }, epochs: 2, batch_size: 64, seed: 3, store: "weights",
    data: { train_samples: 512, test_samples: 128 }, plugins: ["seed"],
  };
  writeFileSync(join(workdir, "config.json"), JSON.stringify(config));
  execFileSync(torchsystem, ["train", join(workdir, "config.json")], { stdio: "ignore", timeout: 120000 });
  url = await serve(join(workdir, "weights"));
  // The flags a closed network needs: no background connections, no first-run work.
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM,
    args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
           "--disable-component-update", "--disable-sync"],
  });
});

after(async () => {
  if (browser) await browser.close();
  if (server && server.exitCode === null) {
    const exited = new Promise((resolve) => server.on("exit", resolve));
    server.kill("SIGTERM");
    assert.equal(await exited, 0, "torchsystem serve exits 0 on SIGTERM");
  }
});

test("the page shows the types, hashes as you type, lists the checkpoints and draws their curves", async () => {
  const page = await browser.newPage({ viewport: { width: 1280, height: 1000 } });
  const failed = [];
  page.on("requestfailed", (request) => failed.push(request.url()));
  await page.goto(url + "/");
  await page.waitForFunction(() => document.querySelector("#status").textContent === "connected");

  const types = (await (await fetch(url + "/v1/registry/types")).json()).types;
  assert.equal(await page.textContent("#types-count"), `(${types.length})`);
  await page.fill("#types-search", "conv2d");
  const rows = await page.$$eval("#types tbody tr", (all) => all.map((row) => row.textContent));
  assert.ok(rows.length >= 1 && rows.length < types.length, `${rows.length} rows for "conv2d"`);
  for (const row of rows) assert.match(row.toLowerCase(), /conv2d/);
  assert.match(await page.textContent("#types-count"), new RegExp(`^\\(${rows.length} of ${types.length}\\)$`));

  // The editor starts with the seed's configuration; its hash comes from /v1/identity.
  await page.waitForFunction(() => document.querySelector("#hash").textContent.length === 32);
  assert.equal(await page.textContent("#hash"), "af51a51a38f7ad81f9523360fafe7068");
  await page.fill("#config", '{"name": "Model", "arguments": {"x": 1, "y": 2.0, "z": "3"}}');
  await page.waitForFunction(() => document.querySelector("#hash").textContent === "b12461be073bff9f5847f3f423767aa2");
  assert.equal(await page.textContent("#identity-text"), 'Model{"x": 1, "y": 2.0, "z": "3"}');
  await page.fill("#config", '{"name": ');
  await page.waitForFunction(() => document.querySelector("#identity-error").textContent.startsWith("not JSON yet"));
  await page.fill("#config", '{"name": 5}');
  await page.waitForFunction(() => document.querySelector("#identity-error").textContent.includes('"name" must be a string'));
  assert.equal(await page.textContent("#hash"), "");

  assert.equal(await page.textContent("#checkpoints-count"), "(1)");
  await page.click(`tr[data-identity="MLP-${digest}"]`);
  assert.equal(await page.textContent("#curves-title"), `MLP-${digest}`);
  for (const series of ["loss", "test_loss", "test_accuracy"]) {
    const points = await page.getAttribute(`#curves polyline[data-series="${series}"]`, "points");
    assert.equal(points.trim().split(/\s+/).length, 2, `the ${series} curve has its 2 epochs`);
  }
  await page.screenshot({ path: join(workdir, "page.png") });
  assert.deepEqual(failed, [], "every request of the page succeeded");
  await page.close();
});
