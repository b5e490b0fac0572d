"""What every layer shares: settings, errors, where data lives, and the stores."""
