-- A live workout records the sample partitions it writes to as its batches arrive (WorkoutShard, before writing
-- there), so that discarding it or erasing its owner purges every sample although it never finished. Live rows
-- from before this start with partition 0; a shard adds any later one when it rebuilds the session.
UPDATE activities SET sample_buckets = '{0}' WHERE status = 'live' AND cardinality(sample_buckets) = 0;
