package graph

import (
	"context"

	"memberbind/graph/model"
	"memberbind/internal/member"
)

// maxDeliveries bounds WebhookEndpoint.deliveries(first).
const maxDeliveries = 100

// webhookID decodes a webhook endpoint's id given in an input; an id that
// is not one is an endpoint that cannot be found.
func webhookID(s string) (int64, error) {
	id, ok := model.DecodeID(model.KindWebhook, s)
	if !ok {
		return 0, member.FieldErrorf(member.CodeWebhookNotFound, "id", "this organization has no webhook endpoint with this id")
	}
	return id, nil
}

// webhookSecretPayload is the answer of a mutation that makes a secret.
func webhookSecretPayload(e *member.WebhookEndpoint, secret string, err error) (*model.WebhookSecretPayload, error) {
	ues, err := userErrors(err)
	if err != nil {
		return nil, err
	}
	p := &model.WebhookSecretPayload{Endpoint: e, UserErrors: ues}
	if e != nil {
		p.Secret = &secret
	}
	return p, nil
}

// webhookEndpointPayload is the answer of a mutation on an endpoint: the
// endpoint as it stands, also when the mutation failed.
func (r *Resolver) webhookEndpointPayload(ctx context.Context, orgID, id int64, e *member.WebhookEndpoint, err error) (*model.WebhookEndpointPayload, error) {
	ues, err := userErrors(err)
	if err != nil {
		return nil, err
	}
	if len(ues) > 0 && id != 0 {
		all, err := r.Service.WebhookEndpoints(ctx, orgID)
		if err != nil {
			return nil, err
		}
		for _, x := range all {
			if x.ID == id {
				e = x
			}
		}
	}
	return &model.WebhookEndpointPayload{Endpoint: e, UserErrors: ues}, nil
}

func (r *mutationResolver) createWebhookEndpoint(ctx context.Context, input model.CreateWebhookEndpointInput) (*model.WebhookSecretPayload, error) {
	org, _, err := orgOf(ctx)
	if err != nil {
		return nil, err
	}
	return webhookSecretPayload(r.Service.CreateWebhookEndpoint(ctx, org.ID, input.URL, input.Events))
}

func (r *mutationResolver) updateWebhookEndpoint(ctx context.Context, input model.UpdateWebhookEndpointInput) (*model.WebhookEndpointPayload, error) {
	org, _, err := orgOf(ctx)
	if err != nil {
		return nil, err
	}
	id, err := webhookID(input.ID)
	var e *member.WebhookEndpoint
	if err == nil {
		e, err = r.Service.UpdateWebhookEndpoint(ctx, org.ID, id, input.URL, input.Events)
	}
	return r.webhookEndpointPayload(ctx, org.ID, id, e, err)
}

func (r *mutationResolver) deleteWebhookEndpoint(ctx context.Context, input model.WebhookEndpointInput) (*model.WebhookEndpointPayload, error) {
	org, _, err := orgOf(ctx)
	if err != nil {
		return nil, err
	}
	id, err := webhookID(input.ID)
	var e *member.WebhookEndpoint
	if err == nil {
		e, err = r.Service.DeleteWebhookEndpoint(ctx, org.ID, id)
	}
	return r.webhookEndpointPayload(ctx, org.ID, id, e, err)
}

func (r *mutationResolver) rotateWebhookSecret(ctx context.Context, input model.WebhookEndpointInput) (*model.WebhookSecretPayload, error) {
	org, _, err := orgOf(ctx)
	if err != nil {
		return nil, err
	}
	id, err := webhookID(input.ID)
	if err != nil {
		return webhookSecretPayload(nil, "", err)
	}
	return webhookSecretPayload(r.Service.RotateWebhookSecret(ctx, org.ID, id))
}

func (r *webhookEndpointResolver) deliveries(ctx context.Context, e *member.WebhookEndpoint, first int) ([]*member.WebhookDelivery, error) {
	if first < 0 || first > maxDeliveries {
		return nil, member.FieldErrorf(member.CodeInvalidInput, "first", "first must be between 0 and %d, got %d", maxDeliveries, first)
	}
	byEndpoint, err := r.Service.WebhookDeliveries(ctx, e.OrgID, []int64{e.ID}, first)
	if err != nil {
		return nil, err
	}
	if ds := byEndpoint[e.ID]; ds != nil {
		return ds, nil
	}
	return []*member.WebhookDelivery{}, nil
}
