package server

import (
	"fmt"
	"os"
	"strings"

	"pcipause/daemon/config"
	"pcipause/daemon/controller"
	"pcipause/daemon/credential"
	"pcipause/daemon/cxone"
)

// BackendOptions turns the config and the stored credential into CXone client options.
func BackendOptions(cfg *config.Config) (cxone.Options, error) {
	c := cfg.CXone
	o := cxone.Options{Backend: c.Backend, Org: c.Org, BaseURL: c.BaseURL, TokenURL: c.TokenURL, ClientID: c.ClientID,
		Scopes: c.Scopes, AccessKeyID: c.AccessKeyID, TenantID: c.TenantID, DiscoveryURL: c.DiscoveryURL,
		CAFile: c.CAFile, Timeout: c.Timeout.Duration}
	sec, err := loadSecrets(cfg)
	if err != nil {
		return o, err
	}
	o.ClientSecret, o.AccessKeySecret = sec.ClientSecret, sec.AccessKeySecret
	return o, nil
}

// Secrets are what the credential store holds.
type Secrets struct {
	ClientSecret    string
	AccessKeySecret string
}

func loadSecrets(cfg *config.Config) (Secrets, error) {
	if f := cfg.CXone.ClientSecretFile; f != "" {
		b, err := os.ReadFile(f)
		if err != nil {
			return Secrets{}, fmt.Errorf("cxone.client_secret_file: %w", err)
		}
		return Secrets{ClientSecret: strings.TrimSpace(string(b))}, nil
	}
	sec, err := credential.Read(cfg.Paths.Credential)
	if err != nil {
		return Secrets{}, fmt.Errorf("credential: %w (store it with `pcipause credential set`)", err)
	}
	return Secrets{ClientSecret: sec.ClientSecret, AccessKeySecret: sec.AccessKeySecret}, nil
}

// ControllerConfig maps the config's controller table.
func ControllerConfig(cfg *config.Config) controller.Config {
	c := cfg.Controller
	return controller.Config{Rate: c.Rate, Burst: c.Burst, HoldDown: c.HoldDown.Duration,
		RefreshInterval: c.RefreshInterval.Duration, PollInterval: c.PollInterval.Duration,
		PollIntervalPaused: c.PollIntervalPaused.Duration, MaxBackoff: c.MaxBackoff.Duration,
		CallTimeout: c.RequestTimeout.Duration}
}
