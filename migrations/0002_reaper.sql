-- sesame schema version 2: the session reaper reads recent decisions, grant changes
-- and its own records of every replica's chain by kind and time.
CREATE INDEX audit_records_by_kind_at ON audit_records (kind, at);
