// Every scenario, in the order `bun run bench` runs them. A domain that has not landed is
// listed with `pending: "<why>"` (a Scenario field), never faked.
import type { Scenario } from "../lib";
import { auth } from "./auth";
import { challenges } from "./challenges";
import { chat } from "./chat";
import { health } from "./health";
import { booking } from "./booking";
import { movies } from "./movies";
import { overhead } from "./overhead";
import { referenceMovies } from "./reference-movies";
import { shop } from "./shop";
import { todos } from "./todos";
import { uploads } from "./uploads";

export const scenarios: Scenario[] = [
  overhead,
  challenges,
  todos,
  movies,
  referenceMovies,
  booking,
  shop,
  auth,
  health,
  chat,
  uploads,
];
