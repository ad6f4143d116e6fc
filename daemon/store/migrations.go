package store

import (
	"encoding/json"
	"fmt"

	bolt "go.etcd.io/bbolt"

	"pcipause/daemon/audit"
	"pcipause/daemon/cxone"
)

// migration moves the file from version-1 to version. Migrations run in order inside the
// open transaction, so a crash mid-migration leaves the old version intact.
type migration struct {
	version uint64
	name    string
	apply   func(tx *bolt.Tx) error
}

// migrations is append-only: never edit a shipped step, add a new one.
var migrations = []migration{
	{1, "create state and audit buckets", migrateV1},
	{2, "add interactions bucket, backfilled from episodes", migrateV2},
}

// SchemaVersion is the version this build writes.
func SchemaVersion() uint64 { return migrations[len(migrations)-1].version }

func migrate(tx *bolt.Tx, steps []migration) error {
	if _, err := tx.CreateBucketIfNotExists(bucketMeta); err != nil {
		return fmt.Errorf("create meta bucket: %w", err)
	}
	cur := schemaOf(tx)
	latest := steps[len(steps)-1].version
	if cur > latest {
		return fmt.Errorf("%w: file has schema %d, this build knows up to %d", ErrNewerSchema, cur, latest)
	}
	for _, m := range steps {
		if m.version <= cur {
			continue
		}
		if err := m.apply(tx); err != nil {
			return fmt.Errorf("migrate to schema %d (%s): %w", m.version, m.name, err)
		}
		if err := setSchema(tx, m.version); err != nil {
			return fmt.Errorf("migrate to schema %d: %w", m.version, err)
		}
	}
	return nil
}

func migrateV1(tx *bolt.Tx) error {
	for _, b := range [][]byte{bucketEpisodes, bucketTargets, bucketAgents, bucketIntents} {
		if _, err := tx.CreateBucketIfNotExists(b); err != nil {
			return fmt.Errorf("create bucket %s: %w", b, err)
		}
	}
	return audit.EnsureBuckets(tx)
}

// migrateV2 adds the per-interaction view. Schema 1 kept the interaction only on each episode;
// every episode with a known interaction now gets its interaction record.
func migrateV2(tx *bolt.Tx) error {
	ib, err := tx.CreateBucketIfNotExists(bucketInteractions)
	if err != nil {
		return fmt.Errorf("create bucket %s: %w", bucketInteractions, err)
	}
	return tx.Bucket(bucketEpisodes).ForEach(func(k, v []byte) error {
		var e Episode
		if err := json.Unmarshal(v, &e); err != nil {
			return fmt.Errorf("decode episode %q: %w", k, err)
		}
		if e.InteractionID == "" {
			return nil
		}
		prev := Interaction{}
		if old := ib.Get([]byte(e.InteractionID)); old != nil {
			if err := json.Unmarshal(old, &prev); err != nil {
				return fmt.Errorf("decode interaction %q: %w", e.InteractionID, err)
			}
		}
		in := Interaction{ID: e.InteractionID, AgentID: e.AgentID, Since: e.OpenedAt, Desired: cxone.StatusRecording}
		if e.Open() || prev.PCIOpen {
			in.PCIOpen, in.Desired = true, cxone.StatusPaused
		}
		if !prev.Since.IsZero() && prev.Since.Before(in.Since) {
			in.Since = prev.Since
		}
		data, err := json.Marshal(in)
		if err != nil {
			return err
		}
		return ib.Put([]byte(e.InteractionID), data)
	})
}
