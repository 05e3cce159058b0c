// Full round trip inside the Workers runtime: create a run, upload its images and its label
// table in two shards (written with the shared LabelTableWriter), stream every batch of every
// epoch, and check that what comes back is exactly what was written and scheduled.
import { describe, expect, it } from "vitest";
import { batchOrder, cropFor, mixedCrop, mixFor } from "../../shared/crop-schedule/index.ts";
import { decodeLabelTable } from "../../shared/label-table/index.ts";
import { decodeBatch, NO_PARTNER } from "../../shared/batch-format.ts";
import { call, createRun, imageFor, tableFor, upload, type RunShape } from "./helpers.ts";

async function roundTrip(shape: RunShape, size: number, pixels: boolean) {
  const { runId, m, worker, trainer } = await createRun(shape);
  const E = m.relabel.epochs;
  const split = Math.ceil(E / 2);
  const shards = [tableFor(m, 0, split), ...(split < E ? [tableFor(m, split, E - split)] : [])];
  for (const [i, bytes] of shards.entries()) {
    const r = await upload(`/v1/runs/${runId}/tables/${i}`, worker, bytes);
    expect(r.status, await r.clone().text()).toBe(201);
  }
  const images = Array.from({ length: m.images }, (_, i) => imageFor(m, i));
  if (pixels) {
    for (const [i, img] of images.entries())
      expect((await upload(`/v1/runs/${runId}/images/${i}`, worker, img.png)).status).toBe(201);
  }
  const status = (await (await call(`/v1/runs/${runId}/status`, { token: trainer })).json()) as {
    labelsReady: boolean;
    pixelsReady: boolean;
    tables: { shards: unknown[] };
  };
  expect(status.labelsReady).toBe(true);
  expect(status.pixelsReady).toBe(pixels);
  expect(status.tables.shards).toHaveLength(shards.length);

  const tables = shards.map((b) => decodeLabelTable(b));
  const k = m.relabel.k,
    cpi = m.relabel.cropsPerImage,
    S = m.relabel.schedule.outputSize,
    C = m.dataset.channels;
  let crops = 0;
  for (let e = 0; e < E; e++) {
    const t = tables[e < split ? 0 : 1];
    const order = batchOrder(m.relabel.schedule.seed, e, m.images);
    for (let b = 0; b * size < m.images; b++) {
      const r = await call(`/v1/runs/${runId}/batches/${e}/${b}?size=${size}${pixels ? "&pixels=1" : ""}`, {
        token: trainer,
      });
      expect(r.status).toBe(200);
      const d = decodeBatch(await r.arrayBuffer());
      const slots = Math.min(size, m.images - b * size);
      expect([d.epoch, d.batch, d.slots, d.firstSlot, d.k, d.classes]).toEqual([
        e,
        b,
        slots,
        b * size,
        k,
        m.dataset.classes,
      ]);
      for (let s = 0; s < slots; s++) {
        const slot = b * size + s;
        const image = order[slot];
        const mix = mixFor(m.relabel.schedule, e, slot, m.images);
        for (let c = 0; c < cpi; c++) {
          const i = s * cpi + c;
          const rec = t.record(e, slot, c);
          expect(d.image[i]).toBe(image);
          expect(Array.from(d.ids.subarray(i * k, (i + 1) * k))).toEqual(Array.from(rec.ids));
          expect(Array.from(d.probs.subarray(i * k, (i + 1) * k))).toEqual(Array.from(rec.probs));
          const box = cropFor(m.relabel.schedule, e, image, c);
          expect([...d.box.subarray(4 * i, 4 * i + 4), d.flip[i]]).toEqual([
            box.x,
            box.y,
            box.w,
            box.h,
            box.flip ? 1 : 0,
          ]);
          // turned schedules send each crop's turn; others no section
          expect(d.angle?.[i] ?? null).toBe(box.angle === undefined ? null : Math.fround(box.angle));
          if (d.mix) {
            expect(d.mix.partner[i]).toBe(mix ? mix.partnerImage : NO_PARTNER);
            expect(d.mix.lambda[i]).toBe(Math.fround(mix ? mix.lambda : 1));
          }
          crops++;
        }
        if (pixels) {
          const want = mixedCrop(m.relabel.schedule, e, slot, m.images, (j) => images[j].planar, C);
          expect(Array.from(d.pixels!.subarray(s * C * S * S, (s + 1) * C * S * S))).toEqual(Array.from(want));
        }
      }
    }
  }
  expect(crops).toBe(E * m.images * cpi);
}

describe("upload → batch stream round trip", () => {
  it("u8 table, 2 shards, batch size not dividing the images: every label exactly as written", async () => {
    await roundTrip({ classes: 12, ipc: 3, epochs: 3, k: 5 }, 8, false);
  });

  it("f16 table, 2 crops per image", async () => {
    await roundTrip({ classes: 6, ipc: 2, epochs: 2, k: 3, quant: "f16", cropsPerImage: 2 }, 5, false);
  });

  it("with pixels and CutMix: crops equal the shared mixedCrop of the stored images", async () => {
    await roundTrip(
      {
        classes: 4,
        ipc: 3,
        epochs: 2,
        k: 2,
        channels: 3,
        sourceSize: 12,
        outputSize: 8,
        mix: { kind: "cutmix", alpha: 1, prob: 0.7 },
      },
      5,
      true,
    );
  });

  it("with pixels and turned crops: the stored manifest keeps rotate, the edge turns as relabel did", async () => {
    await roundTrip({ classes: 3, ipc: 2, epochs: 2, k: 3, sourceSize: 10, rotate: 45 }, 4, true);
  });

  it("Mixup section", async () => {
    await roundTrip({ classes: 5, ipc: 2, epochs: 1, k: 4, mix: { kind: "mixup", alpha: 0.8, prob: 1 } }, 4, false);
  });
});
