// One of everything, over HTTP, owned by one user: the resources the authorization matrix probes
// as other callers, the ids the fuzzer draws from, and the catalog the load runs read.
import { ChatClient } from "../src/modules/chat/testkit";
import { call, day, must, signup, type Session } from "./lib";

export interface World {
  base: string;
  admin: Session;
  /** Owns every per-user resource below. */
  owner: Session;
  /** A second user who owns nothing of the owner's. */
  other: Session;
  /** A string present in the owner's private resources (titles, contents), to spot leaks. */
  marker: string;
  ids: {
    challenge: string;
    project: string;
    task: string;
    failedTask: string;
    subtask: string;
    movie: string;
    theater: string;
    screening: string;
    reservation: string;
    room: string;
    roomPassword: string;
    message: string;
    file: string;
    item: string;
    item2: string;
    cartItem: string;
    subCartItem: string;
    paidOrder: string;
    paidOrderItem: string;
    unpaidOrder: string;
    subOrder: string;
    subscription: string;
    review: string;
    tid: string;
    sid: string;
  };
}

/** Retries what a client retries: 503 and 409 order_busy (payments in flight). */
async function retrying(send: () => Promise<Response>): Promise<Response> {
  for (let i = 0; ; i++) {
    const res = await send();
    if ((res.status !== 503 && res.status !== 409) || i >= 100) return res;
    const body = (await res.clone().json()) as { code?: string };
    if (res.status === 409 && body.code !== "order_busy") return res;
    await Bun.sleep(10);
  }
}

/** ready → the buyer approves at the sandbox checkout → approve. Returns the paid order and its tid. */
export async function payOrder(base: string, token: string, orderId: string): Promise<{ order: any; tid: string }> {
  const ready = await retrying(() => call(base, "POST", `/orders/${orderId}/payment`, { token }));
  if (ready.status !== 201) throw new Error(`payment ready: ${ready.status} ${await ready.text()}`);
  const { redirectUrl, tid } = (await ready.json()) as { redirectUrl: string; tid: string };
  const checkout = await fetch(redirectUrl, { redirect: "manual" });
  if (checkout.status !== 302) throw new Error(`checkout: ${checkout.status} ${await checkout.text()}`);
  const pgToken = new URL(checkout.headers.get("location")!).searchParams.get("pg_token")!;
  const approved = await retrying(() => call(base, "POST", `/orders/${orderId}/payment/approve`, { token, body: { pgToken } }));
  if (approved.status !== 200) throw new Error(`approve: ${approved.status} ${await approved.text()}`);
  return { order: await approved.json(), tid };
}

let seq = 0;

/** Admin catalog: a movie now showing, a theater, a screening tomorrow, two shop items. */
export async function seedCatalog(base: string, admin: Session, stock = 1000) {
  const n = `${Date.now().toString(36)}${++seq}`;
  const token = admin.accessToken;
  const movie = await must(base, "POST", "/movies", {
    token,
    body: { title: `Chaos Night ${n}`, grade: "15", genre: "THRILLER", releaseDate: day(-1), thumbnailUrl: "https://img.example.com/chaos.jpg", runningTime: 100 },
  });
  const theater = await must(base, "POST", "/theaters", { token, body: { name: `Hall ${n}` } });
  const screening = await must(base, "POST", "/screenings", {
    token,
    body: { movieId: movie.id, theaterId: theater.id, startTime: new Date(Date.now() + 86_400_000).toISOString() },
  });
  const item = await must(base, "POST", "/items", {
    token,
    body: { name: `Lutein ${n}`, brand: "ChaosLabs", price: 10_000, discountRate: 10, stock, categories: ["EYE"] },
  });
  const item2 = await must(base, "POST", "/items", {
    token,
    body: { name: `Omega ${n}`, brand: "ChaosLabs", price: 20_000, discountRate: 0, stock, categories: ["BRAIN"] },
  });
  return { movie: movie.id as string, theater: theater.id as string, screening: screening.id as string, item: item.id as string, item2: item2.id as string };
}

/**
 * Builds the world. `promote` grants the admin role (in-process: the accounts service; a process:
 * the CLI); `internal` is the internal token's header, for reading the SID from the sandbox's ledger.
 */
export async function seedWorld(base: string, promote: (email: string) => Promise<void>, internal: Record<string, string>, stock = 1000): Promise<World> {
  const marker = `zq${Bun.randomUUIDv7().replaceAll("-", "").slice(-10)}`;
  const admin = await signup(base, "admin");
  await promote(admin.email);
  // A role change takes effect on the next login (the role is in the token).
  Object.assign(admin, await must(base, "POST", "/auth/login", { body: { email: admin.email, password: admin.password } }, [200]));
  const [owner, other] = [await signup(base, "owner"), await signup(base, "other")];
  const token = owner.accessToken;
  const catalog = await seedCatalog(base, admin, stock);

  const challenge = await must(base, "POST", "/challenges", { token, body: { title: `Push-ups ${marker}`, startDate: day(-1), endDate: day(30) } }, [201]);
  await must(base, "POST", `/challenges/${challenge.id}/logs`, { token }, [201]);

  const project = await must(base, "POST", "/projects", { token, body: { id: Bun.randomUUIDv7(), title: `Report ${marker}` } }, [200, 201, 202]);
  const task = await must(base, "POST", `/projects/${project.id}/tasks`, { token, body: { id: Bun.randomUUIDv7(), title: `Write ${marker}`, estimateMinutes: 120 } }, [200, 201, 202]);
  const failedTask = await must(base, "POST", `/projects/${project.id}/tasks`, { token, body: { id: Bun.randomUUIDv7(), title: `Big ${marker}`, estimateMinutes: 240 } }, [200, 201, 202]);
  await must(base, "PUT", `/tasks/${failedTask.id}/status`, { token, body: { status: "FAIL", reason: "too_big", actualMinutes: 60 } });
  const subtask = await must(base, "POST", `/tasks/${task.id}/subtasks`, { token, body: { id: Bun.randomUUIDv7(), title: `Outline ${marker}` } }, [200, 201, 202]);

  const reservation = await must(base, "POST", "/reservations", { token, body: { screeningId: catalog.screening, seats: ["A1", "A2"] } }, [201]);

  const roomPassword = `pw-${marker}`;
  const room = await must(base, "POST", "/rooms", { token, body: { name: `Inner ${marker}`, password: roomPassword } }, [201]);
  const chat = await ChatClient.connect(base, token);
  let message: string;
  try {
    await chat.join(room.id, roomPassword);
    message = (await chat.say(room.id, `hello ${marker}`)).message.id as string;
  } finally {
    chat.close();
  }
  const form = new FormData();
  form.append("file", new Blob([`notes ${marker}\n`], { type: "text/plain" }), "notes.txt");
  const file = await must(base, "POST", "/files", { token, raw: form }, [201]);

  const cartItem = await must(base, "POST", "/carts/normal/items", { token, body: { itemId: catalog.item2, quantity: 1 } }, [201]);
  const subCartItem = await must(base, "POST", "/carts/subscription/items", { token, body: { itemId: catalog.item2, quantity: 1, periodDays: 30 } }, [201]);
  const paid = await must(base, "POST", "/orders", { token, body: { kind: "NORMAL", items: [{ itemId: catalog.item, quantity: 2 }] } }, [201]);
  const { tid } = await payOrder(base, token, paid.id);
  const sub = await must(base, "POST", "/orders", { token, body: { kind: "SUBSCRIPTION", periodDays: 30, items: [{ itemId: catalog.item, quantity: 1 }] } }, [201]);
  const { order: subPaid } = await payOrder(base, token, sub.id);
  const unpaid = await must(base, "POST", "/orders", { token, body: { kind: "NORMAL", items: [{ itemId: catalog.item, quantity: 1 }] } }, [201]);
  const review = await must(base, "POST", `/items/${catalog.item}/reviews`, { token, body: { orderItemId: paid.items[0].id, stars: 5, content: `Great ${marker}` } }, [201]);
  const subscription = await must(base, "GET", `/subscriptions/${subPaid.subscriptionId}`, { token });
  const payments = await must(base, "GET", `/sandbox-pg/control/payments?partnerOrderId=${sub.id}`, { headers: internal });
  const sid = (payments.items ?? payments).find((p: { sid?: string | null }) => p.sid)?.sid as string;

  return {
    base,
    admin,
    owner,
    other,
    marker,
    ids: {
      challenge: challenge.id,
      project: project.id,
      task: task.id,
      failedTask: failedTask.id,
      subtask: subtask.id,
      ...catalog,
      reservation: reservation.id,
      room: room.id,
      roomPassword,
      message,
      file: file.id,
      cartItem: cartItem.id ?? cartItem.items?.[0]?.id,
      subCartItem: subCartItem.id ?? subCartItem.items?.[0]?.id,
      paidOrder: paid.id,
      paidOrderItem: paid.items[0].id,
      unpaidOrder: unpaid.id,
      subOrder: sub.id,
      subscription: subscription.id,
      review: review.id,
      tid,
      sid,
    },
  };
}
