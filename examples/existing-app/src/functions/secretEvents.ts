import { app } from '@azure/functions';
import { keyVaultEvents, onAppStart } from 'functions-keyvault/handlers';

app.eventGrid('secretEvents', { handler: keyVaultEvents });
// At start, in the background: configuration problems logged once, the rotation ledger, SECRET_PREFETCH.
app.hook.appStart(onAppStart);
