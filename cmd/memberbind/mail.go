package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"memberbind/internal/mail"
	"memberbind/internal/metrics"
	"memberbind/internal/mysql"
)

// startWorker starts delivering the outbox over smtpURL until ctx ends, and
// wakes the worker whenever the store commits mail. The returned function
// waits until the worker has finished or released what it held. The
// webhook worker runs beside it (startWebhooks), and is waited for too.
func startWorker(ctx context.Context, cfg config, smtpURL, publicURL string, st *mysql.Store, reg *metrics.Registry, log *slog.Logger) (func() error, error) {
	smtp, err := mail.ParseSMTPURL(smtpURL)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", envSMTPURL, err)
	}
	sender, err := mail.NewSender(smtp, cfg.MailConcurrency)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", envSMTPURL, err)
	}
	w, err := mail.NewWorker(mail.WorkerOptions{
		Outbox:        st,
		Sender:        sender,
		From:          cfg.MailFrom,
		PublicURL:     publicURL,
		ActivationTTL: cfg.Policy.ActivationTTL,
		Concurrency:   cfg.MailConcurrency,
		RetryBudget:   cfg.MailRetryBudget,
		Lease:         cfg.MailLease,
		Logger:        log,
		Now:           cfg.Now,
		OnSent:        reg.MailSent,
		OnFailure:     reg.MailFailed,
	})
	if err != nil {
		sender.Close()
		return nil, fmt.Errorf("mail worker: %w", err)
	}
	st.OnOutbox = w.Notify
	log.InfoContext(ctx, "mail worker started", "smtp", smtp.String(), "owner", w.Owner(), "concurrency", cfg.MailConcurrency)
	done := make(chan error, 1)
	go func() {
		err := w.Run(ctx)
		sender.Close()
		done <- err
	}()
	waitWebhooks := startWebhooks(ctx, cfg, st, reg, log)
	return func() error { return errors.Join(<-done, waitWebhooks()) }, nil
}
