import { app } from '@azure/functions';
import { keyVaultEvents } from 'functions-keyvault/handlers';

app.eventGrid('secretEvents', { handler: keyVaultEvents });
