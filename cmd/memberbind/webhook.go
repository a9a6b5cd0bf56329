package main

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"fmt"
	"log/slog"

	"memberbind/internal/metrics"
	"memberbind/internal/mysql"
	"memberbind/internal/webhook"
)

// webhookConfig is the store's webhook configuration: the key that seals
// endpoint secrets, and the guard that checks their URLs. Without
// MEMBERBIND_WEBHOOK_SECRET_KEY a configured deployment refuses to
// register endpoints (a key made up at start would not open the secrets
// after a restart, nor on another instance); the zero-configuration start,
// whose database lives in memory, makes one up.
func webhookConfig(cfg config) (mysql.WebhookConfig, error) {
	key := cfg.WebhookSecretKey
	if key == nil {
		if !cfg.zeroConfig() {
			return mysql.WebhookConfig{}, nil
		}
		key = make([]byte, 32)
		if _, err := rand.Read(key); err != nil {
			return mysql.WebhookConfig{}, err
		}
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return mysql.WebhookConfig{}, fmt.Errorf("%s: %w", envWebhookKey, err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return mysql.WebhookConfig{}, fmt.Errorf("%s: %w", envWebhookKey, err)
	}
	guard := &webhook.Guard{AllowPrivate: cfg.WebhookAllowPrivate}
	return mysql.WebhookConfig{Cipher: aead, CheckURL: guard.CheckURL}, nil
}

// startWebhooks starts delivering webhooks until ctx ends, when the store
// can open endpoint secrets, and returns the function that waits for the
// worker to finish.
func startWebhooks(ctx context.Context, cfg config, st *mysql.Store, reg *metrics.Registry, log *slog.Logger) func() error {
	if st.Webhooks.Cipher == nil {
		log.Info("webhooks off: " + envWebhookKey + " is not set")
		return func() error { return nil }
	}
	w := webhook.NewWorker(webhook.Options{
		Queue: st, Guard: &webhook.Guard{AllowPrivate: cfg.WebhookAllowPrivate}, Now: cfg.Now, Logger: log,
		OnAttempt: reg.WebhookAttempt,
	})
	log.Info("webhook worker started", "owner", w.Owner(), "allow_private", cfg.WebhookAllowPrivate)
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	return func() error { return <-done }
}
