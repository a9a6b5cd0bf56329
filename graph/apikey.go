package graph

import (
	"context"

	"memberbind/graph/model"
	"memberbind/internal/member"
)

// userErrors turns a mutation's error into its userErrors: none for nil, one
// for a business *member.Error; any other error is a fault, returned for
// the error presenter.
func userErrors(err error) ([]*model.UserError, error) {
	if err == nil {
		return []*model.UserError{}, nil
	}
	derrs := member.AllErrors(err)
	if len(derrs) == 0 {
		return nil, err
	}
	out := make([]*model.UserError, len(derrs))
	for i, derr := range derrs {
		out[i] = userError(derr)
	}
	return out, nil
}

// userError is a business error as the schema shows it, its field as a
// path from the mutation's input argument.
func userError(derr *member.Error) *model.UserError {
	ue := &model.UserError{Code: derr.Code, Message: derr.Message, RetryAt: derr.RetryAt}
	if len(derr.Field) > 0 {
		ue.Field = append([]string{"input"}, derr.Field...)
	}
	return ue
}

// apiKeyID decodes an API key's id given in an input; an id that is not
// one is a key that cannot be found.
func apiKeyID(s string) (int64, error) {
	id, ok := model.DecodeID(model.KindAPIKey, s)
	if !ok {
		return 0, member.FieldErrorf(member.CodeAPIKeyNotFound, "id", "this organization has no API key with this id")
	}
	return id, nil
}

// standingAPIKey reads one of the organization's keys as it stands; nil
// when it has none with id.
func (r *Resolver) standingAPIKey(ctx context.Context, orgID, id int64) (*member.APIKey, error) {
	keys, err := r.Service.APIKeys(ctx, orgID)
	if err != nil {
		return nil, err
	}
	for _, k := range keys {
		if k.ID == id {
			return k, nil
		}
	}
	return nil, nil
}

// createAPIKey is the createApiKey mutation.
func (r *mutationResolver) createAPIKey(ctx context.Context, input model.CreateAPIKeyInput) (*model.CreateAPIKeyPayload, error) {
	org, _, err := orgOf(ctx)
	if err != nil {
		return nil, err
	}
	key, secret, err := r.Service.CreateAPIKey(ctx, org.ID, input.Name)
	ues, err := userErrors(err)
	if err != nil {
		return nil, err
	}
	p := &model.CreateAPIKeyPayload{APIKey: key, UserErrors: ues}
	if key != nil {
		p.Secret = &secret
	}
	return p, nil
}

// revokeAPIKey is the revokeApiKey mutation: it never revokes the
// organization's last key, which only the command line may do.
func (r *mutationResolver) revokeAPIKey(ctx context.Context, input model.RevokeAPIKeyInput) (*model.RevokeAPIKeyPayload, error) {
	org, _, err := orgOf(ctx)
	if err != nil {
		return nil, err
	}
	id, err := apiKeyID(input.ID)
	var key *member.APIKey
	if err == nil {
		key, err = r.Service.RevokeAPIKey(ctx, org.ID, id, false)
	}
	ues, err := userErrors(err)
	if err != nil {
		return nil, err
	}
	if len(ues) > 0 && id != 0 {
		if key, err = r.standingAPIKey(ctx, org.ID, id); err != nil {
			return nil, err
		}
	}
	return &model.RevokeAPIKeyPayload{APIKey: key, UserErrors: ues}, nil
}
