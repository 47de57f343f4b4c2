"""The `alertwrite` command line: provision Appwrite, deploy and run the functions locally."""
