"""Networks (plain nn.Module builders), building them from config, saving and loading."""
