"""Adobe Experience Platform: the schema set-up, the batch loader and the `source-mixpanel-aep-xdm` command."""
