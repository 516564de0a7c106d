// require('functions-keyvault/testing') from CommonJS (see load.cjs).
module.exports = require('./load.cjs')(() => require('../dist/testing.js'));
