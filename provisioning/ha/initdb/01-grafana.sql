-- Grafana's own database beside the plugin's store (database "oktaguard").
CREATE DATABASE grafana OWNER oktaguard;
-- the plugin's store needs pg_trgm (free-text search); postgres:15 ships it
\connect oktaguard
CREATE EXTENSION IF NOT EXISTS pg_trgm;
