// require('functions-keyvault/handlers') from CommonJS (see load.cjs).
module.exports = require('./load.cjs')(() => require('../dist/handlers.js'));
