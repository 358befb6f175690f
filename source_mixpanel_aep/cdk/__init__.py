"""The one seam for every departure from the stock Airbyte CDK: nothing else copies CDK control flow or touches its internals."""
