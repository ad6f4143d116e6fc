package cxone

import "context"

// ListActive implements Backend.
func (c *Client) ListActive(ctx context.Context, agentID string) ([]Target, error) {
	if c.opts.Backend == BackendMask {
		return c.maskList(ctx, agentID)
	}
	return c.wemList(ctx, agentID)
}

// Get implements Backend.
func (c *Client) Get(ctx context.Context, t Target) (State, error) {
	if c.opts.Backend == BackendMask {
		return c.maskGet(ctx, t)
	}
	return c.wemGet(ctx, t)
}

// Pause implements Backend. The Mask API takes no reason or metadata; they stay in our audit.
func (c *Client) Pause(ctx context.Context, t Target, r PauseRequest) error {
	if c.opts.Backend == BackendMask {
		return c.maskChange(ctx, "pause", "mask", t)
	}
	return c.wemPause(ctx, t, r)
}

// Resume implements Backend.
func (c *Client) Resume(ctx context.Context, t Target, r ResumeRequest) error {
	if c.opts.Backend == BackendMask {
		return c.maskChange(ctx, "resume", "unmask", t)
	}
	return c.wemResume(ctx, t, r)
}
