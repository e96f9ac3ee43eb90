-- The per-user cap on unpaid orders counts a user's unpaid orders of the last reservation window
-- at every placement: without this index that count read every order the user ever placed
-- (shop_orders_user), so a placement cost grew with the buyer's history.
CREATE INDEX shop_orders_unpaid_user ON shop_orders (user_id, created_at) WHERE status = 'REQUEST';
