// Every scenario, in the order `bun run bench` runs them. A domain that has not landed is
// listed as pending (with the issue that brings it), never faked.
import type { Scenario } from "../lib";
import { auth } from "./auth";

const pending = (name: string, title: string, why: string): Scenario => ({
  name,
  title,
  pending: why,
  run: async () => [],
});

export const scenarios: Scenario[] = [
  pending("challenges", "challenge logs: cache off vs memory vs Redis, fixed 3,000 req/s and max", "the challenges module (issue 3) has not landed"),
  pending("todos", "todos: task list read; create direct vs async at 500 connections", "the todos module (issue 3) has not landed"),
  pending("movies", "movies: GET /movies and title search, without vs with indexes vs cached", "the reservations module (issue 4) has not landed"),
  pending("booking", "booking: contention on one screening", "the reservations module (issue 4) has not landed"),
  pending("shop", "shop: GET /items with filters; order + pay", "the subscriptions module (issue 6) has not landed"),
  auth,
  pending("chat", "chat: WebSocket ramp", "the chat module (issue 5) has not landed"),
];
