package cxone

import (
	"context"
	"net/http"
	"net/url"
)

// maskPath is the Public Mask API's path under the discovered api_endpoint.
const maskPath = "/interaction-recording-management-service/v1/interactions/"

func (c *Client) maskURL(ctx context.Context, action, user string) (string, error) {
	base, _, err := c.Endpoints(ctx)
	if err != nil {
		return "", err
	}
	return base + maskPath + action + "?" + url.Values{"userId": {user}}.Encode(), nil
}

// maskChange posts mask or unmask. 200 is done; 202 (accepted, still processing) and 425
// (a previous change still processing) come back as ErrPending.
func (c *Client) maskChange(ctx context.Context, op, action string, t Target) error {
	if err := checkTarget(op, t, KindUser); err != nil {
		return err
	}
	u, err := c.maskURL(ctx, action, t.ID)
	if err != nil {
		return err
	}
	res, err := c.do(ctx, op, t.String(), http.MethodPost, u, nil)
	if err != nil {
		return err
	}
	if res.status == http.StatusOK || res.status == http.StatusNoContent {
		return nil
	}
	return c.apiError(op, t.String(), res)
}

func (c *Client) maskStatus(ctx context.Context, op string, t Target) (MaskStatus, response, error) {
	u, err := c.maskURL(ctx, "get-recording-status", t.ID)
	if err != nil {
		return MaskStatus{}, response{}, err
	}
	res, err := c.do(ctx, op, t.String(), http.MethodGet, u, nil)
	if err != nil {
		return MaskStatus{}, res, err
	}
	if res.status != http.StatusOK {
		return MaskStatus{}, res, c.apiError(op, t.String(), res)
	}
	ms, err := DecodeMaskStatus(res.body)
	if err != nil {
		return ms, res, &APIError{Op: op, Target: t.String(), StatusCode: res.status, Kind: ErrMalformed, RequestID: res.requestID, Msg: err.Error()}
	}
	return ms, res, nil
}

func (c *Client) maskGet(ctx context.Context, t Target) (State, error) {
	if err := checkTarget("get", t, KindUser); err != nil {
		return State{}, err
	}
	ms, res, err := c.maskStatus(ctx, "get", t)
	if err != nil {
		if res.status == http.StatusNotFound {
			return State{Status: StatusEnded}, err
		}
		return State{}, err
	}
	st := State{Status: StatusRecording, Pending: ms.Processing}
	if ms.StatusReason == "Mask" {
		st.Status = StatusPaused
	}
	return st, nil
}

// maskList returns the user as the one target while the user has an active call.
func (c *Client) maskList(ctx context.Context, agentID string) ([]Target, error) {
	if agentID == "" {
		return nil, &APIError{Op: "list", Kind: ErrBadRequest, Msg: "user id is empty"}
	}
	t := Target{Kind: KindUser, ID: agentID, AgentID: agentID}
	ms, res, err := c.maskStatus(ctx, "list", t)
	if err != nil {
		if res.status == http.StatusNotFound {
			return nil, nil
		}
		return nil, err
	}
	t.InteractionID = ms.ContactID
	return []Target{t}, nil
}
