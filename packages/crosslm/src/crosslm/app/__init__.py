"""The Flower apps (`flwr run packages/crosslm`): ServerApp and ClientApp."""
